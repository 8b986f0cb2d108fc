/* Architecture from tensor shapes, matching against the built-in table, and checking a given
 * architecture against a checkpoint (see arch_match.h). */
#include "loaders/arch_match.h"
#include "common/error.h"
#include "common/log.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BLOCKS 4096

/* Names of the tensors looked at, per layout. Block tensors are relative to the block prefix. */
typedef struct {
    const char *cls, *pos, *patch, *registers, *blocks;
    const char *q_weight, *q_bias;   /* HF: query only ([C, C]); ORIGINAL: packed qkv ([3C, C]) */
    const char *swiglu_in, *swiglu_out, *mlp_in, *mlp_out, *ls1;
} layout_names;

static const layout_names names_of[] = {
    [WS_LAYOUT_HF] = {"embeddings.cls_token", "embeddings.position_embeddings",
                      "embeddings.patch_embeddings.projection.weight", "embeddings.register_tokens",
                      "encoder.layer.", "attention.attention.query.weight", "attention.attention.query.bias",
                      "mlp.weights_in.weight", "mlp.weights_out.weight", "intermediate.dense.weight",
                      "output.dense.weight", "layer_scale1.lambda1"},
    [WS_LAYOUT_ORIGINAL] = {"cls_token", "pos_embed", "patch_embed.proj.weight", "register_tokens", "blocks.",
                            "attn.qkv.weight", "attn.qkv.bias", "mlp.w12.weight", "mlp.w3.weight",
                            "mlp.fc1.weight", "mlp.fc2.weight", "ls1.gamma"},
};

/* Where each block lives: its full name prefix ("module.blocks.1.5." ...). */
typedef struct {
    ws_ckpt_layout L;
    char (*block)[96];   /* [depth] */
} found;

static const ws_ckpt_tensor *lookup(const ws_ckpt *c, const char *prefix, const char *name, char *full, size_t n) {
    snprintf(full, n, "%s%s", prefix, name);
    return ckpt_find(c, full);
}

static void shape_str(const ws_ckpt_tensor *t, char *buf, size_t n) {
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < t->ndim && k < n; d++)
        k += (size_t)snprintf(buf + k, n - k, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
    if (k < n) snprintf(buf + k, n - k, "]");
}

/* Parse a decimal block index at *s, advancing past it and the following '.'; -1 if none. */
static long parse_index(const char **s) {
    const char *p = *s;
    if (!isdigit((unsigned char)*p)) return -1;
    long v = 0;
    while (isdigit((unsigned char)*p) && v < MAX_BLOCKS) v = v * 10 + (*p++ - '0');
    if (*p != '.' || v >= MAX_BLOCKS) return -1;
    *s = p + 1;
    return v;
}

static int last_dim(const ws_ckpt_tensor *t) { return t->ndim ? (int)t->shape[t->ndim - 1] : 0; }

static int infer(const ws_ckpt *c, found *f) {
    memset(f, 0, sizeof *f);
    ws_ckpt_layout *L = &f->L;
    const ws_ckpt_tensor *cls = NULL;
    /* The CLS token fixes layout and prefix: the shortest name ending in (embeddings.)cls_token. */
    for (size_t i = 0; i < c->num_tensors; i++) {
        const char *nm = c->tensors[i].name;
        size_t n = strlen(nm), k = strlen("cls_token");
        if (n < k || strcmp(nm + n - k, "cls_token") || (n > k && nm[n - k - 1] != '.')) continue;
        if (cls && strlen(cls->name) <= n) continue;
        cls = &c->tensors[i];
        size_t hf = strlen("embeddings.cls_token");
        L->layout = n >= hf && !strcmp(nm + n - hf, "embeddings.cls_token") ? WS_LAYOUT_HF : WS_LAYOUT_ORIGINAL;
        size_t plen = n - (L->layout == WS_LAYOUT_HF ? hf : k);
        if (plen >= sizeof L->prefix)
            return ws_errorf(WS_ERR_FORMAT, "%s: tensor '%s': name prefix too long", c->path, nm);
        memcpy(L->prefix, nm, plen);
        L->prefix[plen] = '\0';
    }
    if (!cls)
        return ws_errorf(WS_ERR_FORMAT, "%s: no cls_token tensor (looked for embeddings.cls_token, cls_token, "
                         "module.cls_token, backbone.cls_token ...): not a ViT checkpoint of a known layout", c->path);
    const layout_names *N = &names_of[L->layout];
    char full[256], sh[96];
    L->embed_dim = last_dim(cls);
    if (L->embed_dim <= 0)
        return ws_errorf(WS_ERR_SHAPE, "%s: tensor '%s' has no embedding dimension", c->path, cls->name);

    const ws_ckpt_tensor *t = lookup(c, L->prefix, N->patch, full, sizeof full);
    if (!t) return ws_errorf(WS_ERR_FORMAT, "%s: tensor '%s' is missing", c->path, full);
    if (t->ndim != 4 || t->shape[0] != L->embed_dim || t->shape[1] != 3 || t->shape[2] != t->shape[3] ||
        t->shape[2] <= 0) {
        shape_str(t, sh, sizeof sh);
        return ws_errorf(WS_ERR_SHAPE, "%s: tensor '%s' has shape %s, expected [%d, 3, P, P]", c->path, full, sh,
                         L->embed_dim);
    }
    L->patch_size = (int)t->shape[2];

    t = lookup(c, L->prefix, N->pos, full, sizeof full);
    if (!t) return ws_errorf(WS_ERR_FORMAT, "%s: tensor '%s' is missing", c->path, full);
    int64_t npos = t->ndim == 3 && t->shape[0] == 1 && t->shape[2] == L->embed_dim ? t->shape[1] - 1 : -1;
    int64_t g = npos > 0 ? (int64_t)llround(sqrt((double)npos)) : 0;
    if (npos <= 0 || g * g != npos) {
        shape_str(t, sh, sizeof sh);
        return ws_errorf(WS_ERR_SHAPE, "%s: tensor '%s' has shape %s, expected [1, 1 + G*G, %d]", c->path, full, sh,
                         L->embed_dim);
    }
    L->grid = (int)g;
    L->img_size = L->grid * L->patch_size;
    t = lookup(c, L->prefix, N->registers, full, sizeof full);
    L->num_register_tokens = t && t->ndim == 3 ? (int)t->shape[1] : 0;

    /* Blocks: every name <prefix><blocks>{i}. or, ORIGINAL with chunks, <prefix>blocks.{chunk}.{i}. */
    f->block = calloc(MAX_BLOCKS, sizeof *f->block);
    if (!f->block) return ws_errorf(WS_ERR_NOMEM, "%s: out of memory", c->path);
    char head[160];
    snprintf(head, sizeof head, "%s%s", L->prefix, N->blocks);
    size_t hlen = strlen(head);
    int max_chunk = -1;
    for (size_t i = 0; i < c->num_tensors; i++) {
        const char *nm = c->tensors[i].name;
        if (strncmp(nm, head, hlen)) continue;
        const char *s = nm + hlen;
        long a = parse_index(&s), b = -1;
        if (a < 0) return ws_errorf(WS_ERR_FORMAT, "%s: tensor '%s': cannot read a block index", c->path, nm);
        if (L->layout == WS_LAYOUT_ORIGINAL) b = parse_index(&s);
        long idx = b >= 0 ? b : a;
        if (b >= 0 && a > max_chunk) max_chunk = (int)a;
        if (idx + 1 > L->depth) L->depth = (int)idx + 1;
        int plen = (int)(s - nm);
        if (f->block[idx][0] && strncmp(f->block[idx], nm, (size_t)plen))
            return ws_errorf(WS_ERR_FORMAT, "%s: block %ld is stored under two names (%s and %.*s)", c->path, idx,
                             f->block[idx], plen, nm);
        if (plen >= (int)sizeof f->block[idx])
            return ws_errorf(WS_ERR_FORMAT, "%s: tensor '%s': name too long", c->path, nm);
        snprintf(f->block[idx], sizeof f->block[idx], "%.*s", plen, nm);
    }
    L->block_chunks = max_chunk + 1;
    if (L->depth == 0) return ws_errorf(WS_ERR_FORMAT, "%s: no transformer blocks (no tensor named %s...)", c->path, head);
    for (int i = 0; i < L->depth; i++)
        if (!f->block[i][0])
            return ws_errorf(WS_ERR_FORMAT, "%s: block %d is missing (blocks up to %d are present)", c->path, i,
                             L->depth - 1);

    /* Block 0 tells the FFN kind and sizes, the biases and LayerScale. */
    const ws_ckpt_tensor *in = lookup(c, f->block[0], N->swiglu_in, full, sizeof full);
    if (in) {
        L->family = WS_FAMILY_DINO;
        L->ffn = WS_FFN_SWIGLU;
        if (in->ndim != 2 || in->shape[0] % 2 || in->shape[1] != L->embed_dim) {
            shape_str(in, sh, sizeof sh);
            return ws_errorf(WS_ERR_SHAPE, "%s: tensor '%s' has shape %s, expected [2H, %d]", c->path, full, sh,
                             L->embed_dim);
        }
        L->ffn_hidden = (int)(in->shape[0] / 2);
    } else if ((in = lookup(c, f->block[0], N->mlp_in, full, sizeof full))) {
        L->family = WS_FAMILY_MAE;
        L->ffn = WS_FFN_MLP;
        if (in->ndim != 2 || in->shape[1] != L->embed_dim) {
            shape_str(in, sh, sizeof sh);
            return ws_errorf(WS_ERR_SHAPE, "%s: tensor '%s' has shape %s, expected [H, %d]", c->path, full, sh,
                             L->embed_dim);
        }
        L->ffn_hidden = (int)in->shape[0];
    } else {
        return ws_errorf(WS_ERR_FORMAT, "%s: block 0 has no FFN input weight (%s%s or %s%s)", c->path, f->block[0],
                         N->swiglu_in, f->block[0], N->mlp_in);
    }
    L->layerscale = lookup(c, f->block[0], N->ls1, full, sizeof full) != NULL;
    L->qkv_bias = lookup(c, f->block[0], N->q_bias, full, sizeof full) != NULL;
    return WS_OK;
}

int arch_infer(const ws_ckpt *c, ws_ckpt_layout *out) {
    found f;
    int rc = infer(c, &f);
    free(f.block);
    if (rc == WS_OK) *out = f.L;
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

/* Tensor `full` must exist with the given shape (ndim dims). */
static int expect(const ws_ckpt *c, const ws_arch *a, const char *full, int ndim, ...) {
    const ws_ckpt_tensor *t = ckpt_find(c, full);
    if (!t)
        return ws_errorf(WS_ERR_SHAPE, "%s: tensor '%s' needed by architecture %s is absent", c->path, full, a->name);
    int64_t want[WS_CKPT_MAX_DIMS];
    va_list ap;
    va_start(ap, ndim);
    int same = t->ndim == ndim;
    for (int d = 0; d < ndim; d++) {
        want[d] = va_arg(ap, int64_t);
        if (same && t->shape[d] != want[d]) same = 0;
    }
    va_end(ap);
    if (same) return WS_OK;
    char sh[96], ex[96];
    size_t k = (size_t)snprintf(ex, sizeof ex, "[");
    for (int d = 0; d < ndim && k < sizeof ex; d++)
        k += (size_t)snprintf(ex + k, sizeof ex - k, "%s%lld", d ? ", " : "", (long long)want[d]);
    if (k < sizeof ex) snprintf(ex + k, sizeof ex - k, "]");
    shape_str(t, sh, sizeof sh);
    return ws_errorf(WS_ERR_SHAPE, "%s: tensor '%s' has shape %s but architecture %s expects %s", c->path, full, sh,
                     a->name, ex);
}

static int presence(const ws_ckpt *c, const ws_arch *a, const char *full, int want, const char *field) {
    int have = ckpt_find(c, full) != NULL;
    if (have == want) return WS_OK;
    return ws_errorf(WS_ERR_SHAPE, "%s: tensor '%s' is %s but architecture %s has %s: %s", c->path, full,
                     have ? "present" : "absent", a->name, field, want ? "true" : "false");
}

static int check(const ws_ckpt *c, const ws_arch *a, const found *f) {
    const ws_ckpt_layout *L = &f->L;
    const layout_names *N = &names_of[L->layout];
    const int64_t C = a->embed_dim, H = a->ffn_hidden, P = a->patch_size, G = a->img_size / a->patch_size;
    char full[256];
    int rc;
    snprintf(full, sizeof full, "%s%s", L->prefix, N->cls);
    if ((rc = expect(c, a, full, 3, (int64_t)1, (int64_t)1, C))) return rc;
    snprintf(full, sizeof full, "%s%s", L->prefix, N->patch);
    if ((rc = expect(c, a, full, 4, C, (int64_t)3, P, P))) return rc;
    snprintf(full, sizeof full, "%s%s", L->prefix, N->pos);
    if ((rc = expect(c, a, full, 3, (int64_t)1, 1 + G * G, C))) return rc;
    snprintf(full, sizeof full, "%s%s", L->prefix, N->registers);
    if (a->num_register_tokens && (rc = expect(c, a, full, 3, (int64_t)1, (int64_t)a->num_register_tokens, C)))
        return rc;
    if (!a->num_register_tokens && ckpt_find(c, full))
        return ws_errorf(WS_ERR_SHAPE, "%s: tensor '%s' is present but architecture %s has no register tokens",
                         c->path, full, a->name);
    if (L->depth != a->depth)
        return ws_errorf(WS_ERR_SHAPE, "%s: the checkpoint has %d blocks (%s to %s) but architecture %s has depth %d",
                         c->path, L->depth, f->block[0], f->block[L->depth - 1], a->name, a->depth);
    const int swiglu = a->ffn == WS_FFN_SWIGLU;
    for (int i = 0; i < a->depth; i++) {
        const char *b = f->block[i];
        snprintf(full, sizeof full, "%s%s", b, N->q_weight);
        if ((rc = expect(c, a, full, 2, L->layout == WS_LAYOUT_HF ? C : 3 * C, C))) return rc;
        snprintf(full, sizeof full, "%s%s", b, N->q_bias);
        if ((rc = presence(c, a, full, a->qkv_bias, "qkv_bias"))) return rc;
        snprintf(full, sizeof full, "%s%s", b, swiglu ? N->swiglu_in : N->mlp_in);
        if ((rc = expect(c, a, full, 2, swiglu ? 2 * H : H, C))) return rc;
        snprintf(full, sizeof full, "%s%s", b, swiglu ? N->swiglu_out : N->mlp_out);
        if ((rc = expect(c, a, full, 2, C, H))) return rc;
        snprintf(full, sizeof full, "%s%s", b, N->ls1);
        if ((rc = presence(c, a, full, a->layerscale, "layerscale"))) return rc;
    }
    return WS_OK;
}

int arch_check(const ws_ckpt *c, const ws_arch *a) {
    found f;
    int rc = infer(c, &f);
    if (rc == WS_OK) rc = check(c, a, &f);
    free(f.block);
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
