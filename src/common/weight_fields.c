/* The weight field table (see weight_fields.h). */
#include "common/weight_fields.h"

#define F(id, nm, per_layer, matrix, split, groups) [id] = {#nm, per_layer, matrix, split, groups}

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

