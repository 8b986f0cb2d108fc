/* Architecture from tensor shapes read through the name tables, matching against the built-in
 * table, and checking a given architecture against a checkpoint (see arch_match.h). */
#include "loaders/arch_match.h"
#include "common/error.h"
#include "common/log.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every tensor of a checkpoint resolved under one layout. */
typedef struct {
    const ws_name_layout *layout;
    const ws_name_entry **entry;   /* [num_tensors]: NULL when the name is not the layout's */
    int *layer;                    /* [num_tensors] */
    size_t prefix_len;             /* of the first resolved tensor */
    size_t hits;                   /* tensors resolved */
} resolved;

static void resolved_free(resolved *r) {
    free(r->entry);
    free(r->layer);
    memset(r, 0, sizeof *r);
}

static int resolve(const ws_ckpt *c, const ws_name_layout *l, resolved *r) {
    memset(r, 0, sizeof *r);
    r->layout = l;
    size_t n = c->num_tensors ? c->num_tensors : 1;
    r->entry = calloc(n, sizeof *r->entry);
    r->layer = calloc(n, sizeof *r->layer);
    if (!r->entry || !r->layer) {
        resolved_free(r);
        return ws_errorf(WS_ERR_NOMEM, "%s: out of memory while resolving tensor names", c->path);
    }
    for (size_t t = 0; t < c->num_tensors; t++) {
        size_t plen;
        r->entry[t] = namemap_resolve(l, c->tensors[t].name, &plen, &r->layer[t]);
        if (r->entry[t] && !r->hits++) r->prefix_len = plen;
    }
    return WS_OK;
}

/* The first tensor holding `field` at `layer` (-1: not per layer); with `group0_only`, only one
 * that holds the field's first row group (HF's query of q/k/v). */
static const ws_ckpt_tensor *field_tensor(const ws_ckpt *c, const resolved *r, ws_field field, int layer,
                                          int group0_only) {
    for (size_t t = 0; t < c->num_tensors; t++) {
        const ws_name_entry *e = r->entry[t];
        if (e && e->field == field && r->layer[t] == layer && (!group0_only || !e->ngroups || !e->group0))
            return &c->tensors[t];
    }
    return NULL;
}

/* Name of `field`'s tensor at `layer` under the layout, for messages: prefix + expanded pattern. */
static void field_name(const ws_ckpt *c, const resolved *r, ws_field field, int layer, char *s, size_t n) {
    const ws_name_entry *e = namemap_entry_for(r->layout, field);
    char nm[192];
    if (e) namemap_expand(e, layer, nm, sizeof nm);
    else snprintf(nm, sizeof nm, "(%s)", weights_field_info(field)->name);
    const char *first = NULL;
    for (size_t t = 0; t < c->num_tensors && !first; t++)
        if (r->entry[t]) first = c->tensors[t].name;
    snprintf(s, n, "%.*s%s", first ? (int)r->prefix_len : 0, first ? first : "", nm);
}

static void shape_str(const int64_t *d, int nd, char *buf, size_t n) {
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < nd && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? ", " : "", (long long)d[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
}

static int last_dim(const ws_ckpt_tensor *t) { return t->ndim ? (int)t->shape[t->ndim - 1] : 0; }

/* The layout under which the most tensor names resolve (ties: the one with fewer entries, the
 * more specific), into *r. */
static int resolve_best(const ws_ckpt *c, resolved *r) {
    memset(r, 0, sizeof *r);
    for (size_t i = 0; i < namemap_layout_count(); i++) {
        resolved x;
        int rc = resolve(c, namemap_layout_at(i), &x);
        if (rc) {
            resolved_free(r);
            return rc;
        }
        if (!r->layout || x.hits > r->hits ||
            (x.hits == r->hits && x.layout->num_entries < r->layout->num_entries)) {
            resolved_free(r);
            *r = x;
        } else {
            resolved_free(&x);
        }
    }
    if (!r->hits) {
        resolved_free(r);
        return ws_errorf(WS_ERR_FORMAT, "%s: no tensor is named as in a known layout (cls_token, "
                         "embeddings.cls_token, blocks.{i}.*, encoder.layer.{i}.* ...): not a ViT checkpoint",
                         c->path);
    }
    return WS_OK;
}

static int infer(const ws_ckpt *c, const resolved *r, ws_ckpt_layout *L) {
    memset(L, 0, sizeof *L);
    L->layout = r->layout;
    char full[256], sh[96];
    const ws_ckpt_tensor *cls = field_tensor(c, r, WS_W_CLS, -1, 0);
    field_name(c, r, WS_W_CLS, -1, full, sizeof full);
    if (!cls) return ws_errorf(WS_ERR_FORMAT, "%s: tensor '%s' is missing (layout %s)", c->path, full, r->layout->name);
    snprintf(L->prefix, sizeof L->prefix, "%.*s", (int)r->prefix_len, cls->name);
    L->embed_dim = last_dim(cls);
    if (L->embed_dim <= 0)
        return ws_errorf(WS_ERR_SHAPE, "%s: tensor '%s' has no embedding dimension", c->path, cls->name);

    const ws_ckpt_tensor *t = field_tensor(c, r, WS_W_PATCH_W, -1, 0);
    field_name(c, r, WS_W_PATCH_W, -1, full, sizeof full);
    if (!t) return ws_errorf(WS_ERR_FORMAT, "%s: tensor '%s' is missing", c->path, full);
    if (t->ndim != 4 || t->shape[0] != L->embed_dim || t->shape[1] != 3 || t->shape[2] != t->shape[3] ||
        t->shape[2] <= 0) {
        shape_str(t->shape, t->ndim, sh, sizeof sh);
        return ws_errorf(WS_ERR_SHAPE, "%s: tensor '%s' has shape %s, expected [%d, 3, P, P]", c->path, t->name, sh,
                         L->embed_dim);
    }
    L->patch_size = (int)t->shape[2];

    t = field_tensor(c, r, WS_W_POS, -1, 0);
    field_name(c, r, WS_W_POS, -1, full, sizeof full);
    if (!t) return ws_errorf(WS_ERR_FORMAT, "%s: tensor '%s' is missing", c->path, full);
    int64_t npos = t->ndim == 3 && t->shape[0] == 1 && t->shape[2] == L->embed_dim ? t->shape[1] - 1 : -1;
    int64_t g = npos > 0 ? (int64_t)llround(sqrt((double)npos)) : 0;
    if (npos <= 0 || g * g != npos) {
        shape_str(t->shape, t->ndim, sh, sizeof sh);
        return ws_errorf(WS_ERR_SHAPE, "%s: tensor '%s' has shape %s, expected [1, 1 + G*G, %d]", c->path, t->name,
                         sh, L->embed_dim);
    }
    L->grid = (int)g;
    L->img_size = L->grid * L->patch_size;
    t = field_tensor(c, r, WS_W_REG, -1, 0);
    L->num_register_tokens = t && t->ndim == 3 ? (int)t->shape[1] : 0;

    /* Blocks: indices 0..L-1 each hold at least one tensor. */
    for (size_t i = 0; i < c->num_tensors; i++)
        if (r->entry[i] && r->layer[i] + 1 > L->depth) L->depth = r->layer[i] + 1;
    if (L->depth == 0)
        return ws_errorf(WS_ERR_FORMAT, "%s: no transformer blocks (layout %s)", c->path, r->layout->name);
    unsigned char *seen = calloc((size_t)L->depth, 1);
    if (!seen) return ws_errorf(WS_ERR_NOMEM, "%s: out of memory", c->path);
    for (size_t i = 0; i < c->num_tensors; i++)
        if (r->entry[i] && r->layer[i] >= 0) seen[r->layer[i]] = 1;
    int gap = -1;
    for (int i = L->depth - 1; i >= 0; i--)
        if (!seen[i]) gap = i;
    free(seen);
    if (gap >= 0)
        return ws_errorf(WS_ERR_FORMAT, "%s: block %d is missing (blocks up to %d are present)", c->path, gap,
                         L->depth - 1);

    /* Block 0 tells the FFN kind and sizes, the biases and LayerScale: the FFN output is [C, H],
     * the input [2H, C] for SwiGLU (gate and linear rows) and [H, C] for a GELU MLP. */
    const ws_ckpt_tensor *in = field_tensor(c, r, WS_W_FC1_W, 0, 0), *out = field_tensor(c, r, WS_W_FC2_W, 0, 0);
    if (!in || !out) {
        field_name(c, r, in ? WS_W_FC2_W : WS_W_FC1_W, 0, full, sizeof full);
        return ws_errorf(WS_ERR_FORMAT, "%s: block 0 has no FFN %s weight (%s)", c->path, in ? "output" : "input",
                         full);
    }
    if (out->ndim != 2 || out->shape[0] != L->embed_dim || out->shape[1] <= 0) {
        shape_str(out->shape, out->ndim, sh, sizeof sh);
        return ws_errorf(WS_ERR_SHAPE, "%s: tensor '%s' has shape %s, expected [%d, H]", c->path, out->name, sh,
                         L->embed_dim);
    }
    L->ffn_hidden = (int)out->shape[1];
    int64_t rows = in->ndim == 2 && in->shape[1] == L->embed_dim ? in->shape[0] : -1;
    if (rows != L->ffn_hidden && rows != 2 * (int64_t)L->ffn_hidden) {
        shape_str(in->shape, in->ndim, sh, sizeof sh);
        return ws_errorf(WS_ERR_SHAPE, "%s: tensor '%s' has shape %s, expected [2H, %d] (SwiGLU) or [H, %d] "
                         "(MLP) with H = %d from '%s'", c->path, in->name, sh, L->embed_dim, L->embed_dim,
                         L->ffn_hidden, out->name);
    }
    L->ffn = rows == L->ffn_hidden ? WS_FFN_MLP : WS_FFN_SWIGLU;
    L->family = L->ffn == WS_FFN_SWIGLU ? WS_FAMILY_DINO : WS_FAMILY_MAE;
    L->layerscale = field_tensor(c, r, WS_W_LS1, 0, 0) != NULL;
    L->qkv_bias = field_tensor(c, r, WS_W_QKV_B, 0, 0) != NULL;
    return WS_OK;
}

int arch_infer(const ws_ckpt *c, ws_ckpt_layout *out) {
    resolved r;
    int rc = resolve_best(c, &r);
    if (rc) return rc;
    rc = infer(c, &r, out);
    resolved_free(&r);
    return rc;
}

int arch_same_shapes(const ws_arch *a, const ws_arch *b) {
    return a->family == b->family && a->ffn == b->ffn && a->patch_size == b->patch_size &&
           a->img_size == b->img_size && a->embed_dim == b->embed_dim && a->depth == b->depth &&
           a->num_heads == b->num_heads && a->ffn_hidden == b->ffn_hidden && a->layerscale == b->layerscale &&
           a->qkv_bias == b->qkv_bias && a->proj_bias == b->proj_bias && a->ffn_bias == b->ffn_bias &&
           a->num_register_tokens == b->num_register_tokens && fabsf(a->norm_eps - b->norm_eps) <= 1e-3f * b->norm_eps;
}

/* Does `hint` (a file or directory name) name built-in `name`? Case, '_' vs '-' and a leading
 * "webssl-" do not matter. */
static int hint_names(const char *hint, const char *name) {
    if (!hint) return 0;
    char h[WS_NAME_MAX * 2];
    size_t n = 0;
    for (; hint[n] && n + 1 < sizeof h; n++) h[n] = hint[n] == '_' ? '-' : (char)tolower((unsigned char)hint[n]);
    h[n] = '\0';
    if (!strncmp(name, "webssl-", 7)) name += 7;
    return strstr(h, name) != NULL;
}

const ws_arch *arch_builtin_same(const ws_arch *a, const char *prefer) {
    const ws_arch *first = NULL;
    for (size_t i = 0; i < arch_builtin_count(); i++) {
        const ws_arch *b = arch_builtin_at(i);
        if (!arch_same_shapes(a, b)) continue;
        if (prefer && !strcmp(prefer, b->name)) return b;
        if (!first) first = b;
    }
    return first;
}

/* The inferable fields of `L` that differ from `b`, as "embed_dim 1024 (found 1536), ...". */
static int layout_diff(const ws_ckpt_layout *L, const ws_arch *b, char *msg, size_t n) {
    int k = 0;
    size_t len = 0;
    msg[0] = '\0';
#define DIFF(cond, ...)                                                                  \
    do {                                                                                 \
        if (cond) {                                                                      \
            if (len < n) len += (size_t)snprintf(msg + len, n - len, "%s", k ? ", " : ""); \
            if (len < n) len += (size_t)snprintf(msg + len, n - len, __VA_ARGS__);        \
            k++;                                                                         \
        }                                                                                \
    } while (0)
    DIFF(L->family != b->family, "family %s (found %s)", arch_family_name(b->family), arch_family_name(L->family));
    DIFF(L->embed_dim != b->embed_dim, "embed_dim %d (found %d)", b->embed_dim, L->embed_dim);
    DIFF(L->depth != b->depth, "depth %d (found %d)", b->depth, L->depth);
    DIFF(L->patch_size != b->patch_size, "patch_size %d (found %d)", b->patch_size, L->patch_size);
    DIFF(L->img_size != b->img_size, "img_size %d (found %d)", b->img_size, L->img_size);
    DIFF(L->ffn_hidden != b->ffn_hidden, "ffn_hidden %d (found %d)", b->ffn_hidden, L->ffn_hidden);
    DIFF(L->layerscale != b->layerscale, "layerscale %d (found %d)", b->layerscale, L->layerscale);
    DIFF(L->qkv_bias != b->qkv_bias, "qkv_bias %d (found %d)", b->qkv_bias, L->qkv_bias);
    DIFF(L->num_register_tokens != b->num_register_tokens, "num_register_tokens %d (found %d)",
         b->num_register_tokens, L->num_register_tokens);
#undef DIFF
    return k;
}

int arch_match_builtin(const ws_ckpt *c, const char *prefer, ws_arch *out) {
    ws_ckpt_layout L;
    int rc = arch_infer(c, &L);
    if (rc) return rc;
    const ws_arch *pick = NULL, *nearest = NULL, *other = NULL;
    int best = 1 << 30;
    char msg[512];
    for (size_t i = 0; i < arch_builtin_count(); i++) {
        const ws_arch *b = arch_builtin_at(i);
        int d = layout_diff(&L, b, msg, sizeof msg);
        if (d < best) { best = d; nearest = b; }
        if (d) continue;
        if (!pick || (hint_names(prefer, b->name) && !hint_names(prefer, pick->name))) pick = b;
        if (!arch_same_shapes(pick, b)) other = b;
    }
    char found_s[256];
    snprintf(found_s, sizeof found_s, "family %s, embed_dim %d, depth %d, patch_size %d, img_size %d (grid %d), "
             "ffn_hidden %d", arch_family_name(L.family), L.embed_dim, L.depth, L.patch_size, L.img_size, L.grid,
             L.ffn_hidden);
    if (!pick) {
        layout_diff(&L, nearest, msg, sizeof msg);
        return ws_errorf(WS_ERR_SHAPE, "%s: tensor shapes give %s; no built-in architecture matches (nearest %s "
                         "expects %s); pass --arch NAME or --arch FILE.yaml", c->path, found_s, nearest->name, msg);
    }
    if (other)
        return ws_errorf(WS_ERR_SHAPE, "%s: tensor shapes give %s, which matches both %s (%d heads) and %s (%d heads);"
                         " pass --arch", c->path, found_s, pick->name, pick->num_heads, other->name,
                         other->num_heads);
    *out = *pick;
    return WS_OK;
}

/* Field `f` at `layer` against `a`: its tensors present exactly when `a` has the field, each
 * with the shape the name table gives for `a`. */
static int check_field(const ws_ckpt *c, const resolved *r, const ws_arch *a, ws_field f, int layer) {
    const ws_field_info *fi = weights_field_info(f);
    const int want = weights_field_present(a, f);
    const ws_ckpt_tensor *t = field_tensor(c, r, f, layer, 0);
    char full[256];
    if (!t && want) {
        field_name(c, r, f, layer, full, sizeof full);
        return ws_errorf(WS_ERR_SHAPE, "%s: tensor '%s' needed by architecture %s is absent", c->path, full, a->name);
    }
    if (t && !want)
        return ws_errorf(WS_ERR_SHAPE, "%s: tensor '%s' is present but architecture %s has no %s", c->path, t->name,
                         a->name, fi->name);
    for (size_t i = 0; i < c->num_tensors; i++) {
        const ws_name_entry *e = r->entry[i];
        if (!e || e->field != f || r->layer[i] != layer) continue;
        t = &c->tensors[i];
        int64_t exp[WS_CKPT_MAX_DIMS];
        int nd = namemap_expected_shape(e, a, exp);
        int same = nd == t->ndim;
        for (int d = 0; same && d < nd; d++) same = exp[d] == t->shape[d];
        if (same) continue;
        char sh[96], ex[96];
        shape_str(t->shape, t->ndim, sh, sizeof sh);
        shape_str(exp, nd, ex, sizeof ex);
        return ws_errorf(WS_ERR_SHAPE, "%s: tensor '%s' has shape %s but architecture %s expects %s", c->path, t->name,
                         sh, a->name, ex);
    }
    return WS_OK;
}

static int check(const ws_ckpt *c, const ws_arch *a, const ws_ckpt_layout *L, const resolved *r) {
    static const ws_field global[] = {WS_W_CLS, WS_W_PATCH_W, WS_W_PATCH_B, WS_W_POS, WS_W_REG, WS_W_LNF_W,
                                      WS_W_LNF_B};
    int rc;
    for (size_t k = 0; k < sizeof global / sizeof global[0]; k++)
        if ((rc = check_field(c, r, a, global[k], -1))) return rc;
    if (L->depth != a->depth)
        return ws_errorf(WS_ERR_SHAPE, "%s: the checkpoint has %d blocks but architecture %s has depth %d", c->path,
                         L->depth, a->name, a->depth);
    for (int i = 0; i < a->depth; i++)
        for (int f = 0; f < WS_W_COUNT; f++)
            if (weights_field_info((ws_field)f)->per_layer && (rc = check_field(c, r, a, (ws_field)f, i))) return rc;
    return WS_OK;
}

int arch_check(const ws_ckpt *c, const ws_arch *a) {
    ws_ckpt_layout L;
    int rc = arch_infer(c, &L);
    if (rc) return rc;
    resolved r;
    if ((rc = resolve(c, namemap_choose(c, a), &r))) return rc;
    rc = check(c, a, &L, &r);
    resolved_free(&r);
    return rc;
}

/* The first field in which two architectures differ (for "config.json says X, --arch says Y"). */
static void arch_first_diff(const ws_arch *a, const ws_arch *b, char *msg, size_t n) {
    if (a->family != b->family) {
        snprintf(msg, n, "family %s vs %s", arch_family_name(a->family), arch_family_name(b->family));
        return;
    }
    if (a->ffn != b->ffn) {
        snprintf(msg, n, "ffn %s vs %s", arch_ffn_name(a->ffn), arch_ffn_name(b->ffn));
        return;
    }
#define FIELD(f)                                                                         \
    if (a->f != b->f) { snprintf(msg, n, #f " %d vs %d", (int)a->f, (int)b->f); return; }
    FIELD(patch_size) FIELD(img_size) FIELD(embed_dim) FIELD(depth) FIELD(num_heads)
    FIELD(ffn_hidden) FIELD(layerscale) FIELD(qkv_bias) FIELD(proj_bias) FIELD(ffn_bias)
    FIELD(num_register_tokens)
#undef FIELD
    snprintf(msg, n, "norm_eps %g vs %g", a->norm_eps, b->norm_eps);
}

int arch_for_checkpoint(const ws_ckpt *c, const char *arch_flag, ws_arch *out) {
    int rc;
    if (c->has_arch) {
        *out = c->arch;
        if (arch_flag) {
            ws_arch given;
            if ((rc = arch_resolve(arch_flag, &given))) return rc;
            if (!arch_same_shapes(&given, out)) {
                char msg[128];
                arch_first_diff(out, &given, msg, sizeof msg);
                return ws_errorf(WS_ERR_ARG, "%s: config.json describes a different network than --arch %s (%s)",
                                 c->path, arch_flag, msg);
            }
        }
    } else if (arch_flag) {
        if ((rc = arch_resolve(arch_flag, out))) return rc;
    } else {
        const char *base = strrchr(c->path, '/');
        if ((rc = arch_match_builtin(c, base ? base + 1 : c->path, out))) return rc;
        LOG_INFO("%s: tensor shapes match built-in architecture %s", c->path, out->name);
    }
    return arch_check(c, out);
}
