/* The backbone's weights for one tensor-parallel rank: a struct of named pointers into ONE
 * allocation, one per field of the field table (common/weight_fields.h: shape, dtype class, how it
 * is split across TP ranks). Sizes for a rank come from one function, weights_sizes().
 *
 * Dimension names: C embed dim, L depth, P patch, G native grid side (img_size / P), NR register
 * tokens, NH heads, hs head size, H FFN hidden, F = 2 for SwiGLU (w12) else 1 (fc1).
 * Per rank: NHl = this rank's heads, Cl = NHl * hs, Hl = this rank's FFN columns.
 *
 * Tensor-parallel layout (Megatron):
 *   column-parallel (rows of the PyTorch [out, in] weight split): qkv (by heads, separately inside
 *     each of the q, k, v row groups), fc1/w12 (by FFN columns, separately inside the gate and
 *     linear halves of w12), with their biases;
 *   row-parallel (columns split): proj (by heads), fc2/w3 (by FFN columns); their biases are
 *     replicated and applied once, after the all-reduce;
 *   everything else is replicated.
 * Splits may be uneven: weights_split() gives the first (n % tp) ranks one extra unit (a head, or
 * WS_TP_WIDTH_UNIT FFN columns).
 *
 * GEMM weights ("matrix" fields) are stored in the compute dtype (f32 or bf16); every other field
 * is f32. Absent fields (no bias, no LayerScale, no registers) have size 0 and a NULL pointer. */
#ifndef WEBSSL_MODEL_WEIGHTS_H
#define WEBSSL_MODEL_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "common/arch.h"
#include "common/dtype.h"
#include "common/weight_fields.h"

typedef struct {
    ws_dtype wdt;       /* dtype of the matrix fields (f32 or bf16) */
    void *patch_w;      /* (C, 3*P*P)          patch projection, Conv2d weight flattened */
    float *patch_b;     /* (C) */
    float *cls;         /* (C)                 CLS token */
    float *reg;         /* (NR, C)             register tokens (NULL when NR = 0) */
    float *pos;         /* (1 + G*G, C)        position embeddings at the native grid */
    float *ln1_w;       /* (L, C) */
    float *ln1_b;       /* (L, C) */
    void *qkv_w;        /* (L, 3*Cl, C)        q rows, k rows, v rows of this rank's heads */
    float *qkv_b;       /* (L, 3*Cl) */
    void *proj_w;       /* (L, C, Cl)          row-parallel */
    float *proj_b;      /* (L, C)              replicated, added after the all-reduce */
    float *ls1;         /* (L, C)              LayerScale gamma (NULL without LayerScale) */
    float *ln2_w;       /* (L, C) */
    float *ln2_b;       /* (L, C) */
    void *fc1_w;        /* (L, F*Hl, C)        SwiGLU: gate rows [0,Hl), linear rows [Hl,2Hl) */
    float *fc1_b;       /* (L, F*Hl) */
    void *fc2_w;        /* (L, C, Hl)          row-parallel */
    float *fc2_b;       /* (L, C)              replicated, added after the all-reduce */
    float *ls2;         /* (L, C) */
    float *lnf_w;       /* (C)                 final LayerNorm */
    float *lnf_b;       /* (C) */
} ws_weights;

/* Balanced split of n units over `parts`: the first n % parts ranks get one more. */
void weights_split(int n, int parts, int rank, int *offset, int *count);

/* GEMM-friendly layout of the per-rank weights (cuBLASLt's fast bf16 kernels want 16-byte aligned
 * rows and pointers; cudaMalloc gives 256): FFN columns are split in units of WS_TP_WIDTH_UNIT
 * (when H allows one unit per rank; head widths are multiples of hs already), so every per-rank
 * width and leading dimension is a multiple of 8 elements; fields start WS_FIELD_ALIGN-aligned.
 * tests/model/test_tp_alignment.c checks every built-in model at tp 1..8. */
enum { WS_TP_WIDTH_UNIT = 8, WS_FIELD_ALIGN = 256 };

/* This rank's part of the model (what the split functions give for rank / tp). */
typedef struct {
    int tp_rank, tp_size;
    int head0, NHl;        /* this rank's heads [head0, head0 + NHl) */
    int ffn0, Hl;          /* this rank's FFN columns [ffn0, ffn0 + Hl) */
} ws_tp_slice;

/* Fill `s` for rank / tp; error (naming the sizes) when a rank would get no head or column. */
int weights_tp_slice(const ws_arch *a, int tp_rank, int tp_size, ws_tp_slice *s);

/* Local element count of field `f` (all layers) for this slice; 0 when absent. */
size_t weights_field_numel(const ws_arch *a, const ws_tp_slice *s, ws_field f);
/* Bytes of every field (each a multiple of WS_FIELD_ALIGN, so every field starts WS_FIELD_ALIGN-
 * aligned in an allocation that is) and their total: the size of the one allocation. */
size_t weights_sizes(const ws_arch *a, const ws_tp_slice *s, ws_dtype wdt, size_t bytes[WS_W_COUNT]);
/* Set every pointer of `w` into `base` (of weights_sizes() bytes), in field order. */
void weights_assign(ws_weights *w, const ws_arch *a, const ws_tp_slice *s, ws_dtype wdt, void *base);
/* Address of field `f`'s pointer inside `w` (for table-driven loaders). */
void **weights_field_ptr(ws_weights *w, ws_field f);

#endif
