/* The DINO projection head of SSL-teacher checkpoints (DINOv2's DINOHead), run on the host after
 * the backbone: an MLP of `nlayers` Linear layers with GELU (erf) between them
 * (C -> hidden -> ... -> bottleneck; DINOv2: 3 layers, hidden 2048, bottleneck 256 or 384),
 * L2 normalisation (F.normalize, eps 1e-12), and the weight-normed prototype layer
 * W = g * v / ||v|| (per row, no bias; K prototypes). Every size is read from the tensor shapes.
 *
 * Tensor names: the head name table, loaders/namemap_head.h (mlp.{0,2,4...}.{weight,bias},
 * weight-normed or plain last_layer, after a prefix ending in "dino_head."). Every dino_head
 * tensor must be placed by the table, one tensor per weight. */
#ifndef WEBSSL_MODEL_HEAD_H
#define WEBSSL_MODEL_HEAD_H

#include <stdint.h>

#include "loaders/checkpoint.h"

#define WS_HEAD_MAX_LAYERS 8

typedef struct {
    int nlayers;                       /* Linear layers of the MLP */
    int dims[WS_HEAD_MAX_LAYERS + 1];  /* dims[0] = C (backbone width), dims[nlayers] = bottleneck */
    float *w[WS_HEAD_MAX_LAYERS];      /* layer l: (dims[l+1], dims[l]) */
    float *b[WS_HEAD_MAX_LAYERS];      /* layer l: (dims[l+1]) or NULL without bias */
    int K;                             /* prototypes; 0 when the checkpoint has no last layer */
    float *proto;                      /* (K, bottleneck): rows g * v / ||v|| */
} ws_dino_head;

/* Read the DINO head from the tensors of `c` (a teacher or heads-only checkpoint). Errors name the
 * checkpoint and the tensor: no dino_head tensors, inconsistent shapes, unused tensors. */
int head_load(const ws_ckpt *c, ws_dino_head *h);
/* Open `path` (any checkpoint format), read its head, close it. */
int head_load_file(const char *path, ws_dino_head *h);
void head_free(ws_dino_head *h);

/* Input width C and bottleneck width of the head. */
static inline int head_in_dim(const ws_dino_head *h) { return h->dims[0]; }
static inline int head_bottleneck(const ws_dino_head *h) { return h->dims[h->nlayers]; }

/* z[B, bottleneck] = normalize(mlp(x[B, C])): the L2-normalised bottleneck vectors of B CLS tokens
 * (after the backbone's final LayerNorm). WS_OK or WS_ERR_NOMEM. */
int head_forward(const ws_dino_head *h, const float *x, int B, float *z);

/* For each of the B normalised vectors z[B, bottleneck]: the index of the prototype with the
 * largest logit (W @ z) and that logit (the first index on ties, as torch.argmax). Needs K > 0
 * (WS_ERR_UNSUPPORTED otherwise). */
int head_protos(const ws_dino_head *h, const float *z, int B, int32_t *index, float *score);

#endif
