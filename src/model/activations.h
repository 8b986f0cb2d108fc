/* The forward pass's activation buffers (backend memory), listed once with their shapes and
 * dtypes: ws_model holds them (model.h), forward.c sizes and allocates them with
 * activations_bytes, ws_model_free frees them, and the cost model counts them. Shapes for B images
 * of N tokens (g2 = g*g patches) on one TP rank: NHl heads of size hs (Cl = NHl*hs), Hl FFN
 * columns, F = 2 for SwiGLU (gate and linear halves) else 1, K = 3*P*P. Dtypes: "adt" is the
 * activation dtype between ops (backend activation_dtype), "bdt" the all-reduce buffer's; the
 * rest is f32 (backend.h says why). */
#ifndef WEBSSL_MODEL_ACTIVATIONS_H
#define WEBSSL_MODEL_ACTIVATIONS_H

#include <stddef.h>

#include "common/arch.h"
#include "common/dtype.h"

typedef enum {
    ACT_X,        /* [B*N, C]      f32  residual stream (and, after the last block, the features) */
    ACT_XN,       /* [B*N, C]      adt  LayerNorm output */
    ACT_QKV,      /* [B*N, 3*Cl]   adt  this rank's q, k, v */
    ACT_ATT,      /* [B*N, Cl]     adt  attention output */
    ACT_BRANCH,   /* [B*N, C]      bdt  row-parallel output: the all-reduce buffer */
    ACT_FFN,      /* [B*N, F*Hl]   adt  fc1 / w12 output (after GELU for the MLP); never written
                   *                    where fc1 fuses SwiGLU (the CPU's oneDNN paths: host
                   *                    pages never touched take no memory) */
    ACT_HID,      /* [B*N, Hl]     adt  after SwiGLU */
    ACT_COLS,     /* [B*g2, K]     adt  im2col of the pixels */
    ACT_PATCHES,  /* [B*g2, C]     f32  patch embeddings */
    ACT_OUT,      /* [B, (2+g2)*C] f32  the outputs gathered for one download: CLS [B,C], patch
                   *                    mean [B,C], patch tokens [B,g2,C] */
    ACT_PIX,      /* [B, 3, R, R]  f32  pixels normalised by the backend from uint8 (ws_model_upload) */
    ACT_COUNT
} ws_act;

/* Bytes of every buffer in bytes[ACT_COUNT] for architecture `a`, activations of dtype adt and
 * an all-reduce buffer of dtype bdt; returns their sum. */
size_t activations_bytes(const ws_arch *a, int NHl, int Hl, int B, int N, int g2, ws_dtype adt,
                         ws_dtype bdt, size_t bytes[ACT_COUNT]);

#endif
