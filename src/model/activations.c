/* Sizes of the forward pass's activation buffers (see activations.h). */
#include "model/activations.h"

size_t activations_elems(const ws_arch *a, int NHl, int Hl, int B, int N, int g2,
                         size_t elems[ACT_COUNT]) {
    const size_t BN = (size_t)B * (size_t)N, C = (size_t)a->embed_dim, hs = C / (size_t)a->num_heads;
    const size_t Cl = (size_t)NHl * hs, H = (size_t)Hl, F = a->ffn == WS_FFN_SWIGLU ? 2 : 1;
    const size_t P = (size_t)a->patch_size, patches = (size_t)B * (size_t)g2, cols = patches * 3 * P * P;
    elems[ACT_X] = BN * C;
    elems[ACT_XN] = BN * C;
    elems[ACT_QKV] = BN * 3 * Cl;
    elems[ACT_ATT] = BN * Cl;
    elems[ACT_BRANCH] = BN * C;
    elems[ACT_FFN] = BN * F * H;
    elems[ACT_HID] = BN * H;
    elems[ACT_COLS] = cols;
    elems[ACT_PATCHES] = patches * C;
    elems[ACT_OUT] = (size_t)B * (2 + (size_t)g2) * C;
    elems[ACT_PIX] = patches * 3 * P * P;
    size_t total = 0;
    for (int i = 0; i < ACT_COUNT; i++) total += elems[i];
    return total;
}
