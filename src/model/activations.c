/* Sizes of the forward pass's activation buffers (see activations.h). */
#include "model/activations.h"

size_t activations_bytes(const ws_arch *a, int NHl, int Hl, int B, int N, int g2, ws_dtype adt,
                         ws_dtype bdt, size_t bytes[ACT_COUNT]) {
    const size_t BN = (size_t)B * (size_t)N, C = (size_t)a->embed_dim, hs = C / (size_t)a->num_heads;
    const size_t Cl = (size_t)NHl * hs, H = (size_t)Hl, F = a->ffn == WS_FFN_SWIGLU ? 2 : 1;
    const size_t P = (size_t)a->patch_size, patches = (size_t)B * (size_t)g2, cols = patches * 3 * P * P;
    const size_t f32 = sizeof(float), act = ws_dtype_size(adt);
    bytes[ACT_X] = BN * C * f32;
    bytes[ACT_XN] = BN * C * act;
    bytes[ACT_QKV] = BN * 3 * Cl * act;
    bytes[ACT_ATT] = BN * Cl * act;
    bytes[ACT_BRANCH] = BN * C * ws_dtype_size(bdt);
    bytes[ACT_FFN] = BN * F * H * act;
    bytes[ACT_HID] = BN * H * act;
    bytes[ACT_COLS] = cols * act;
    bytes[ACT_PATCHES] = patches * C * f32;
    bytes[ACT_OUT] = (size_t)B * (2 + (size_t)g2) * C * f32;
    bytes[ACT_PIX] = cols * f32;
    size_t total = 0;
    for (int i = 0; i < ACT_COUNT; i++) total += bytes[i];
    return total;
}
