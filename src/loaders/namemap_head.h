/* Name table of the DINO projection head of SSL-teacher checkpoints (DINOv2's DINOHead; model/head.h
 * reads and runs it). Names follow a prefix ending in "dino_head." ("dino_head." in a teacher
 * checkpoint, "module.dino_head." in a DDP one); after it, in the pattern syntax of namemap.h:
 *   mlp.{i}.weight, mlp.{i}.bias        the MLP's Linear layers; {i} is the nn.Sequential index,
 *                                       Linear layers at even indices (GELU between), layer i / 2
 *   mlp.weight, mlp.bias                a one-layer head: mlp is the Linear itself (layer 0)
 *   last_layer.weight_g, .weight_v      prototypes, torch.nn.utils.weight_norm: g [K, 1], v [K, D]
 *   last_layer.parametrizations.weight.original0, .original1   the same, parametrize form
 *   last_layer.weight                   prototypes without weight norm [K, D]
 * Sizes are not set by an architecture: the head reads them off the tensors. */
#ifndef WEBSSL_LOADERS_NAMEMAP_HEAD_H
#define WEBSSL_LOADERS_NAMEMAP_HEAD_H

#include <stddef.h>

typedef enum {
    WS_HEAD_MLP_W,     /* Linear weight of an MLP layer */
    WS_HEAD_MLP_B,     /* its bias */
    WS_HEAD_PROTO_G,   /* weight-norm magnitude g of the prototypes */
    WS_HEAD_PROTO_V,   /* weight-norm direction v of the prototypes */
    WS_HEAD_PROTO_W,   /* plain prototype weight */
} ws_head_part;

/* What `name` is in the head table: 0 when it holds no "dino_head." at a name boundary (not a
 * head tensor); 1 when it resolves (*part, *layer: the MLP layer, 0 for the prototypes); -1 for a
 * head tensor the table does not know (e.g. the batch-norm variant). *prefix_len is the length up
 * to and including "dino_head." whenever the result is not 0. */
int namemap_head_resolve(const char *name, size_t *prefix_len, ws_head_part *part, int *layer);

#endif
