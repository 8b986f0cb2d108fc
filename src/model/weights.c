/* TP split, the per-rank size table and the layout of the weights (see weights.h). */
#include "model/weights.h"
#include "common/error.h"

#include <stddef.h>

/* Where each field's pointer sits in ws_weights, by field (common/weight_fields.h). */
#define O(id, nm) [id] = offsetof(ws_weights, nm)

static const size_t offsets[WS_W_COUNT] = {
    O(WS_W_PATCH_W, patch_w),
    O(WS_W_PATCH_B, patch_b),
    O(WS_W_CLS, cls),
    O(WS_W_REG, reg),
    O(WS_W_POS, pos),
    O(WS_W_LN1_W, ln1_w),
    O(WS_W_LN1_B, ln1_b),
    O(WS_W_QKV_W, qkv_w),
    O(WS_W_QKV_B, qkv_b),
    O(WS_W_PROJ_W, proj_w),
    O(WS_W_PROJ_B, proj_b),
    O(WS_W_LS1, ls1),
    O(WS_W_LN2_W, ln2_w),
    O(WS_W_LN2_B, ln2_b),
    O(WS_W_FC1_W, fc1_w),
    O(WS_W_FC1_B, fc1_b),
    O(WS_W_FC2_W, fc2_w),
    O(WS_W_FC2_B, fc2_b),
    O(WS_W_LS2, ls2),
    O(WS_W_LNF_W, lnf_w),
    O(WS_W_LNF_B, lnf_b),
};

void weights_split(int n, int parts, int rank, int *offset, int *count) {
    int base = n / parts, extra = n % parts;
    *count = base + (rank < extra ? 1 : 0);
    *offset = rank * base + (rank < extra ? rank : extra);
}

int weights_tp_slice(const ws_arch *a, int tp_rank, int tp_size, ws_tp_slice *s) {
    if (tp_size < 1 || tp_rank < 0 || tp_rank >= tp_size)
        return ws_errorf(WS_ERR_ARG, "tensor-parallel rank %d of size %d is out of range", tp_rank, tp_size);
    if (tp_size > a->num_heads)
        return ws_errorf(WS_ERR_ARG, "--tp %d is larger than the %d attention heads of %s", tp_size,
                         a->num_heads, a->name);
    s->tp_rank = tp_rank;
    s->tp_size = tp_size;
    weights_split(a->num_heads, tp_size, tp_rank, &s->head0, &s->NHl);
    /* FFN columns in units of WS_TP_WIDTH_UNIT while every rank still gets one unit. */
    const int H = a->ffn_hidden, unit = H % WS_TP_WIDTH_UNIT == 0 && H / WS_TP_WIDTH_UNIT >= tp_size
                                            ? WS_TP_WIDTH_UNIT : 1;
    weights_split(H / unit, tp_size, tp_rank, &s->ffn0, &s->Hl);
    s->ffn0 *= unit;
    s->Hl *= unit;
    return WS_OK;
}

size_t weights_field_numel(const ws_arch *a, const ws_tp_slice *s, ws_field f) {
    if (!weights_field_present(a, f)) return 0;
    int64_t d[4];
    int nd = weights_field_shape(a, f, d);
    const int hs = a->embed_dim / a->num_heads, groups = weights_field_groups(a, f);
    switch (weights_field_info(f)->split) {
    case WS_SPLIT_HEAD_ROWS: d[0] = (int64_t)groups * s->NHl * hs; break;
    case WS_SPLIT_FFN_ROWS: d[0] = (int64_t)groups * s->Hl; break;
    case WS_SPLIT_HEAD_COLS: d[1] = (int64_t)s->NHl * hs; break;
    case WS_SPLIT_FFN_COLS: d[1] = s->Hl; break;
    case WS_SPLIT_NONE: break;
    }
    size_t n = 1;
    for (int i = 0; i < nd; i++) n *= (size_t)d[i];
    return weights_field_info(f)->per_layer ? n * (size_t)a->depth : n;
}

size_t weights_sizes(const ws_arch *a, const ws_tp_slice *s, ws_dtype wdt, size_t bytes[WS_W_COUNT]) {
    size_t total = 0;
    for (int f = 0; f < WS_W_COUNT; f++) {
        size_t el = weights_field_info((ws_field)f)->matrix ? ws_dtype_size(wdt) : sizeof(float);
        bytes[f] = (weights_field_numel(a, s, (ws_field)f) * el + WS_FIELD_ALIGN - 1) / WS_FIELD_ALIGN * WS_FIELD_ALIGN;
        total += bytes[f];
    }
    return total;
}

void **weights_field_ptr(ws_weights *w, ws_field f) {
    return (void **)((char *)w + offsets[f]);
}

void weights_assign(ws_weights *w, const ws_arch *a, const ws_tp_slice *s, ws_dtype wdt, void *base) {
    size_t bytes[WS_W_COUNT];
    weights_sizes(a, s, wdt, bytes);
    w->wdt = wdt;
    char *p = base;
    for (int f = 0; f < WS_W_COUNT; f++) {
        *weights_field_ptr(w, (ws_field)f) = bytes[f] ? p : NULL;
        p += bytes[f];
    }
}
