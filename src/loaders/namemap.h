/* Name maps: tables from checkpoint tensor names to weight fields (common/weight_fields.h), one
 * table per checkpoint layout. The model loader walks the chosen table: every checkpoint tensor must
 * match an entry or an ignore pattern (else it is reported as unknown), every entry must be
 * matched for every layer when the architecture has its field (else it is reported as missing,
 * with the name and shape expected), and every matched tensor's shape must be exactly the
 * expected one. There is no "strict=False".
 *
 * Patterns: literal text plus
 *   {i}  the layer index (decimal), e.g. "encoder.layer.{i}.norm1.weight";
 *   {c}  any decimal number that is not used (block chunk of "blocks.{c}.{i}.");
 *   a trailing "*" (ignore patterns only) matches any rest of the name.
 *
 * An entry maps one tensor to `ngroups` row groups of a field starting at group `group0`
 * (weights_field_groups()): qkv has groups q, k, v, so a separate "query" tensor is
 * {WS_W_QKV_W, 0, 1} and a packed [3C, C] "attn.qkv" tensor is {WS_W_QKV_W, 0, 3}; SwiGLU w12 has
 * groups gate, linear. ngroups = 0 means all groups. The expected checkpoint shape is the field's
 * shape (weights_field_shape()) with dim 0 scaled to the groups held, preceded by `lead_ones`
 * dimensions of size 1 (cls_token [1,1,C]: lead_ones = 2).
 *
 * Adding a layout (e.g. original .pth keys, in its own file such as namemap_pth.c):
 *   1. define `const ws_name_entry my_entries[]`, `const char *const my_ignore[]` (NULL-ended),
 *      `const char *const my_prefixes[]` (NULL-ended; stripped from names before matching, e.g.
 *      "module.", "backbone.") and `const ws_name_layout namemap_my = {...}` in that file;
 *   2. declare it `extern const ws_name_layout namemap_my;` below, next to the others;
 *   3. add `&namemap_my` to the `layouts` table in namemap.c.
 * namemap_choose() then picks the layout of the checkpoint's family under which the most tensors
 * match, so a new layout needs no other change. */
#ifndef WEBSSL_LOADERS_NAMEMAP_H
#define WEBSSL_LOADERS_NAMEMAP_H

#include <stddef.h>

#include "loaders/checkpoint.h"
#include "common/arch.h"
#include "common/weight_fields.h"

typedef struct {
    const char *pattern;
    ws_field field;
    int group0, ngroups;   /* row groups held by this tensor; ngroups 0 = all */
    int lead_ones;         /* leading size-1 dims in the checkpoint shape */
} ws_name_entry;

typedef struct {
    const char *name;                  /* "hf-dinov2", shown in messages */
    ws_family family;
    const ws_name_entry *entries;
    size_t num_entries;
    const char *const *ignore;         /* NULL-terminated patterns of tensors that are not needed */
    const char *const *prefixes;       /* NULL-terminated prefixes stripped before matching */
} ws_name_layout;

extern const ws_name_layout namemap_hf_dinov2;   /* transformers Dinov2Model (namemap_hf.c) */
extern const ws_name_layout namemap_hf_vit;      /* transformers ViTModel (MAE) (namemap_hf.c) */
extern const ws_name_layout namemap_pth_dino;     /* original DINOv2 .pth, flat or chunked (namemap_pth.c) */
extern const ws_name_layout namemap_pth_timm;     /* timm VisionTransformer .pth (MAE) (namemap_pth.c) */

/* Match `name` against `pattern`; on success returns 1 and sets *layer (-1 without {i}). */
int namemap_match(const char *pattern, const char *name, int *layer);

/* The layouts above, in a fixed order: i in [0, namemap_layout_count()). */
size_t namemap_layout_count(void);
const ws_name_layout *namemap_layout_at(size_t i);

/* The entry of `layout` that checkpoint tensor `name` maps to, after stripping the layout's
 * prefix (its length in *prefix_len); sets *layer (-1 for fields that are not per layer). NULL
 * when no entry matches. */
const ws_name_entry *namemap_resolve(const ws_name_layout *layout, const char *name, size_t *prefix_len,
                                     int *layer);

/* The first entry of `layout` for `field` (its first row group), NULL when the layout has none. */
const ws_name_entry *namemap_entry_for(const ws_name_layout *layout, ws_field field);

/* `e`'s pattern with {i} replaced by `layer`, into s[cap]. */
void namemap_expand(const ws_name_entry *e, int layer, char *s, size_t cap);

/* One checkpoint tensor resolved to its entry. */
typedef struct {
    const ws_ckpt_tensor *tensor;
    const ws_name_entry *entry;
    int layer;              /* -1 for fields that are not per layer */
} ws_name_binding;

/* Pick the layout for architecture `a` (its family) that matches the most tensors of `c`. */
const ws_name_layout *namemap_choose(const ws_ckpt *c, const ws_arch *a);

/* Resolve every tensor of `c` under `layout` for architecture `a`: checks names (unknown,
 * duplicate, missing), shapes and dtypes, and reports ALL problems in one error message (up to a
 * bounded length) naming the checkpoint. On success *out holds one binding per needed tensor
 * (free() it) and *count their number. */
int namemap_bind(const ws_ckpt *c, const ws_name_layout *layout, const ws_arch *a,
                 ws_name_binding **out, size_t *count);

/* Expected checkpoint shape of `e` for architecture `a`; returns ndim. */
int namemap_expected_shape(const ws_name_entry *e, const ws_arch *a, int64_t dims[WS_CKPT_MAX_DIMS]);

#endif
