/* Field table, TP split and the per-rank size table of the weights (see weights.h). */
#include "model/weights.h"
#include "common/error.h"

#include <stddef.h>

#define F(id, nm, per_layer, matrix, split, groups) \
    [id] = {#nm, offsetof(ws_weights, nm), per_layer, matrix, split, groups}

static const ws_field_info fields[WS_W_COUNT] = {
    F(WS_W_PATCH_W, patch_w, 0, 1, WS_SPLIT_NONE, 1),
    F(WS_W_PATCH_B, patch_b, 0, 0, WS_SPLIT_NONE, 1),
    F(WS_W_CLS, cls, 0, 0, WS_SPLIT_NONE, 1),
    F(WS_W_REG, reg, 0, 0, WS_SPLIT_NONE, 1),
    F(WS_W_POS, pos, 0, 0, WS_SPLIT_NONE, 1),
    F(WS_W_LN1_W, ln1_w, 1, 0, WS_SPLIT_NONE, 1),
    F(WS_W_LN1_B, ln1_b, 1, 0, WS_SPLIT_NONE, 1),
    F(WS_W_QKV_W, qkv_w, 1, 1, WS_SPLIT_HEAD_ROWS, 3),
    F(WS_W_QKV_B, qkv_b, 1, 0, WS_SPLIT_HEAD_ROWS, 3),
    F(WS_W_PROJ_W, proj_w, 1, 1, WS_SPLIT_HEAD_COLS, 1),
    F(WS_W_PROJ_B, proj_b, 1, 0, WS_SPLIT_NONE, 1),
    F(WS_W_LS1, ls1, 1, 0, WS_SPLIT_NONE, 1),
    F(WS_W_LN2_W, ln2_w, 1, 0, WS_SPLIT_NONE, 1),
    F(WS_W_LN2_B, ln2_b, 1, 0, WS_SPLIT_NONE, 1),
    F(WS_W_FC1_W, fc1_w, 1, 1, WS_SPLIT_FFN_ROWS, 1),
    F(WS_W_FC1_B, fc1_b, 1, 0, WS_SPLIT_FFN_ROWS, 1),
    F(WS_W_FC2_W, fc2_w, 1, 1, WS_SPLIT_FFN_COLS, 1),
    F(WS_W_FC2_B, fc2_b, 1, 0, WS_SPLIT_NONE, 1),
    F(WS_W_LS2, ls2, 1, 0, WS_SPLIT_NONE, 1),
    F(WS_W_LNF_W, lnf_w, 0, 0, WS_SPLIT_NONE, 1),
    F(WS_W_LNF_B, lnf_b, 0, 0, WS_SPLIT_NONE, 1),
};

const ws_field_info *weights_field_info(ws_field f) { return &fields[f]; }

int weights_field_groups(const ws_arch *a, ws_field f) {
    if (f == WS_W_FC1_W || f == WS_W_FC1_B) return a->ffn == WS_FFN_SWIGLU ? 2 : 1;
    return fields[f].groups;
}

int weights_field_present(const ws_arch *a, ws_field f) {
    switch (f) {
    case WS_W_REG: return a->num_register_tokens > 0;
    case WS_W_QKV_B: return a->qkv_bias;
    case WS_W_PROJ_B: return a->proj_bias;
    case WS_W_FC1_B: case WS_W_FC2_B: return a->ffn_bias;
    case WS_W_LS1: case WS_W_LS2: return a->layerscale;
    default: return 1;
    }
}

int weights_field_shape(const ws_arch *a, ws_field f, int64_t d[4]) {
    const int64_t C = a->embed_dim, P = a->patch_size, G = a->img_size / a->patch_size;
    const int64_t H = a->ffn_hidden, Fg = weights_field_groups(a, WS_W_FC1_W);
    switch (f) {
    case WS_W_PATCH_W: d[0] = C; d[1] = 3; d[2] = P; d[3] = P; return 4;
    case WS_W_REG: d[0] = a->num_register_tokens; d[1] = C; return 2;
    case WS_W_POS: d[0] = 1 + G * G; d[1] = C; return 2;
    case WS_W_QKV_W: d[0] = 3 * C; d[1] = C; return 2;
    case WS_W_QKV_B: d[0] = 3 * C; return 1;
    case WS_W_PROJ_W: d[0] = C; d[1] = C; return 2;
    case WS_W_FC1_W: d[0] = Fg * H; d[1] = C; return 2;
    case WS_W_FC1_B: d[0] = Fg * H; return 1;
    case WS_W_FC2_W: d[0] = C; d[1] = H; return 2;
    default: d[0] = C; return 1;
    }
}

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
    switch (fields[f].split) {
    case WS_SPLIT_HEAD_ROWS: d[0] = (int64_t)groups * s->NHl * hs; break;
    case WS_SPLIT_FFN_ROWS: d[0] = (int64_t)groups * s->Hl; break;
    case WS_SPLIT_HEAD_COLS: d[1] = (int64_t)s->NHl * hs; break;
    case WS_SPLIT_FFN_COLS: d[1] = s->Hl; break;
    case WS_SPLIT_NONE: break;
    }
    size_t n = 1;
    for (int i = 0; i < nd; i++) n *= (size_t)d[i];
    return fields[f].per_layer ? n * (size_t)a->depth : n;
}

size_t weights_sizes(const ws_arch *a, const ws_tp_slice *s, ws_dtype wdt, size_t bytes[WS_W_COUNT]) {
    size_t total = 0;
    for (int f = 0; f < WS_W_COUNT; f++) {
        size_t el = fields[f].matrix ? ws_dtype_size(wdt) : sizeof(float);
        bytes[f] = (weights_field_numel(a, s, (ws_field)f) * el + WS_FIELD_ALIGN - 1) / WS_FIELD_ALIGN * WS_FIELD_ALIGN;
        total += bytes[f];
    }
    return total;
}

void **weights_field_ptr(ws_weights *w, ws_field f) {
    return (void **)((char *)w + fields[f].offset);
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
