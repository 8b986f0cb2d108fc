/* The forward pass's activation buffers (backend memory, f32), listed once: ws_model holds them
 * (model.h), forward.c sizes and allocates them with activations_elems, ws_model_free frees them,
 * and the cost model counts them. Shapes for B images of N tokens (g2 = g*g patches) on one TP
 * rank: NHl heads of size hs (Cl = NHl*hs), Hl FFN columns, F = 2 for SwiGLU (gate and linear
 * halves) else 1, K = 3*P*P. */
#ifndef WEBSSL_MODEL_ACTIVATIONS_H
#define WEBSSL_MODEL_ACTIVATIONS_H

#include <stddef.h>

#include "common/arch.h"

typedef enum {
    ACT_X,        /* [B*N, C]     residual stream */
    ACT_XN,       /* [B*N, C]     LayerNorm output */
    ACT_QKV,      /* [B*N, 3*Cl]  this rank's q, k, v */
    ACT_ATT,      /* [B*N, Cl]    attention output */
    ACT_BRANCH,   /* [B*N, C]     row-parallel output: the all-reduce buffer */
    ACT_FFN,      /* [B*N, F*Hl]  fc1 / w12 output */
    ACT_HID,      /* [B*N, Hl]    after GELU / SwiGLU */
    ACT_COLS,     /* [B*g2, K]    im2col of the pixels */
    ACT_PATCHES,  /* [B*g2, C]    patch embeddings */
    ACT_OUT,      /* [B, (2+g2)*C] the outputs gathered for one download: CLS [B,C], patch mean
                   * [B,C], patch tokens [B,g2,C] */
    ACT_PIX,      /* [B, 3, R, R] pixels normalised by the backend from uint8 (ws_model_upload) */
    ACT_COUNT
} ws_act;

/* Elements of every buffer in elems[ACT_COUNT] for architecture `a`; returns their sum. */
size_t activations_elems(const ws_arch *a, int NHl, int Hl, int B, int N, int g2,
                         size_t elems[ACT_COUNT]);

#endif
