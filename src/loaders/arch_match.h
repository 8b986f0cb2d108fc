/* Architecture from a checkpoint's tensors, through the name tables of loaders/namemap.h (the one
 * home of tensor names and shapes): which layout the names follow (HF Dinov2 / HF ViT / original
 * DINO / timm MAE, with one of the layout's prefixes such as "module." or "backbone."), the
 * shapes that can be read off the tensors, the built-in architecture(s) they match, and a check
 * of a given architecture against the tensors (each tensor's shape as the table's rule gives it
 * for that architecture). Heads cannot be read from shapes, so a checkpoint that matches no
 * built-in, or built-ins that differ, needs config.json or --arch.
 *
 * Resolution order (arch_for_checkpoint): config.json (ckpt->has_arch) > --arch > shape match;
 * whatever is chosen is then checked against the tensors. */
#ifndef WEBSSL_LOADERS_ARCH_MATCH_H
#define WEBSSL_LOADERS_ARCH_MATCH_H

#include "loaders/checkpoint.h"
#include "loaders/namemap.h"
#include "common/arch.h"

/* What the tensors say. */
typedef struct {
    const ws_name_layout *layout;   /* the layout under which the most tensor names resolve */
    char prefix[64];          /* stripped before every name, e.g. "", "module.", "backbone." */
    ws_family family;         /* dino when the FFN is SwiGLU (w12 holds 2H rows), mae for a GELU MLP */
    ws_ffn ffn;
    int embed_dim;            /* C, from the CLS token */
    int depth;                /* L, number of blocks (indices 0..L-1 all present) */
    int patch_size;           /* P, from the patch projection [C, 3, P, P] */
    int grid;                 /* native grid side G: position embeddings are [1, 1 + G*G, C] */
    int img_size;             /* G * P */
    int ffn_hidden;           /* H, from the FFN output weight [C, H] */
    int layerscale;           /* LayerScale tensors present */
    int qkv_bias;
    int num_register_tokens;
} ws_ckpt_layout;

/* Read the layout and shapes off the tensors. Errors (unknown naming, inconsistent or missing
 * tensors) name the checkpoint and the tensor. */
int arch_infer(const ws_ckpt *c, ws_ckpt_layout *out);

/* 1 when `a` and `b` describe the same network (every field but the name and preprocessing). */
int arch_same_shapes(const ws_arch *a, const ws_arch *b);
/* A built-in architecture with the same network as `a`: the one named `prefer` if it is such
 * (may be NULL), else the first in the table; NULL when none. */
const ws_arch *arch_builtin_same(const ws_arch *a, const char *prefer);

/* The built-in architecture the tensors match (heads taken from it). `prefer` (may be NULL) picks
 * among built-ins that are the same network (e.g. a file named after one). Error, saying what was
 * found and what differs from the nearest built-in, when none or several different ones match. */
int arch_match_builtin(const ws_ckpt *c, const char *prefer, ws_arch *out);

/* Check `a` against the tensors, under the layout namemap_choose() picks for `a`: every field of
 * `a` has a tensor, none has a tensor the architecture lacks, the depth agrees and every tensor
 * has the shape the name table gives for `a`. WS_ERR_SHAPE with the first difference (naming the
 * checkpoint, the tensor, expected and found shapes) when they disagree. Unknown names are left
 * to namemap_bind(). */
int arch_check(const ws_ckpt *c, const ws_arch *a);

/* The architecture to run the checkpoint with: config.json (c->has_arch), else `arch_flag` (a
 * built-in name or YAML file; NULL when not given), else the shape match; then checked against
 * the tensors. When both config.json and --arch are given they must describe the same network. */
int arch_for_checkpoint(const ws_ckpt *c, const char *arch_flag, ws_arch *out);

#endif
