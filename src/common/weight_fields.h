/* The backbone's weight fields (tensors) of an architecture, as one table: each field's name,
 * full (unsplit) shape, row groups, presence, dtype class and how it is divided across
 * tensor-parallel ranks. The base layer's description of what a checkpoint holds: the loaders' name
 * tables map checkpoint names onto these fields and check their shapes; model/weights.h lays them
 * out for one rank.
 *
 * Dimension names: C embed dim, L depth, P patch, G native grid side (img_size / P), NR register
 * tokens, H FFN hidden, F = 2 for SwiGLU (w12) else 1 (fc1). */
#ifndef WEBSSL_COMMON_WEIGHT_FIELDS_H
#define WEBSSL_COMMON_WEIGHT_FIELDS_H

#include <stdint.h>

#include "common/arch.h"

typedef enum {
    WS_W_PATCH_W, WS_W_PATCH_B, WS_W_CLS, WS_W_REG, WS_W_POS,
    WS_W_LN1_W, WS_W_LN1_B, WS_W_QKV_W, WS_W_QKV_B, WS_W_PROJ_W, WS_W_PROJ_B, WS_W_LS1,
    WS_W_LN2_W, WS_W_LN2_B, WS_W_FC1_W, WS_W_FC1_B, WS_W_FC2_W, WS_W_FC2_B, WS_W_LS2,
    WS_W_LNF_W, WS_W_LNF_B,
    WS_W_COUNT
} ws_field;

/* How a field is divided across TP ranks. */
typedef enum {
    WS_SPLIT_NONE = 0,     /* replicated */
    WS_SPLIT_HEAD_ROWS,    /* axis 0, by heads (units of hs), inside each row group */
    WS_SPLIT_FFN_ROWS,     /* axis 0, by FFN columns, inside each row group */
    WS_SPLIT_HEAD_COLS,    /* axis 1, by heads */
    WS_SPLIT_FFN_COLS,     /* axis 1, by FFN columns */
} ws_split;

typedef struct {
    const char *name;      /* e.g. "qkv_w" (used in messages) */
    int per_layer;         /* 1: stacked over L layers */
    int matrix;            /* 1: GEMM weight, stored in the compute dtype */
    ws_split split;
    int groups;            /* row groups split separately (qkv: 3); see weights_field_groups() */
} ws_field_info;

const ws_field_info *weights_field_info(ws_field f);
/* Row groups of field `f` for architecture `a` (qkv 3, SwiGLU w12 2, else 1). */
int weights_field_groups(const ws_arch *a, ws_field f);
/* 1 when architecture `a` has field `f` (e.g. qkv_b only with qkv_bias). */
int weights_field_present(const ws_arch *a, ws_field f);
/* Full (unsplit) shape of one layer's slice of field `f`, in checkpoint order (patch_w is
 * [C, 3, P, P]); returns ndim. */
int weights_field_shape(const ws_arch *a, ws_field f, int64_t dims[4]);

#endif
