/* DINO head: reading its tensors through the head name table (loaders/namemap_head.h) and running
 * it on the host with BLAS (see head.h). */
#include "model/head.h"
#include "common/error.h"
#include "loaders/namemap_head.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define L2_EPS 1e-12f
#define PROTO_BLOCK 8192   /* prototypes scored per GEMM, bounds the score buffer */

/* The head's tensors, placed by the name table (loaders/namemap_head.h). */
typedef struct {
    const ws_ckpt *c;
    const char *prefix;          /* first head tensor's name; its first prefix_len chars are the prefix */
    size_t prefix_len;
    const ws_ckpt_tensor *w[WS_HEAD_MAX_LAYERS], *b[WS_HEAD_MAX_LAYERS];
    const ws_ckpt_tensor *g, *v, *plain;
} head_tensors;

/* Place every tensor under the first head prefix; errors for names the table does not know, two
 * tensors in one place, and too many layers. */
static int head_collect(const ws_ckpt *c, head_tensors *r) {
    memset(r, 0, sizeof *r);
    r->c = c;
    for (size_t i = 0; i < c->num_tensors; i++) {
        const ws_ckpt_tensor *t = &c->tensors[i];
        size_t plen;
        ws_head_part part;
        int layer, k = namemap_head_resolve(t->name, &plen, &part, &layer);
        if (!k) continue;
        if (!r->prefix) {
            r->prefix = t->name;
            r->prefix_len = plen;
        } else if (plen != r->prefix_len || strncmp(t->name, r->prefix, plen)) {
            continue;
        }
        if (k < 0)
            return ws_errorf(WS_ERR_FORMAT, "%s: head tensor '%s' is not part of a DINO head (batch-norm and "
                             "other variants are not supported)", c->path, t->name);
        if (layer >= WS_HEAD_MAX_LAYERS)
            return ws_errorf(WS_ERR_UNSUPPORTED, "%s: DINO head with more than %d layers ('%s')", c->path,
                             WS_HEAD_MAX_LAYERS, t->name);
        const ws_ckpt_tensor **slot = part == WS_HEAD_MLP_W ? &r->w[layer] : part == WS_HEAD_MLP_B ? &r->b[layer]
                                    : part == WS_HEAD_PROTO_G ? &r->g : part == WS_HEAD_PROTO_V ? &r->v : &r->plain;
        if (*slot)
            return ws_errorf(WS_ERR_FORMAT, "%s: head tensors '%s' and '%s' hold the same weight", c->path,
                             (*slot)->name, t->name);
        *slot = t;
    }
    if (!r->prefix)
        return ws_errorf(WS_ERR_FORMAT, "%s: no DINO head tensors (dino_head.*): pass an SSL teacher or heads "
                         "checkpoint", c->path);
    return WS_OK;
}

/* Copy tensor `t` (expected rows x cols, or a vector of `rows` when cols is 0) to a new float array. */
static int read_matrix(const ws_ckpt *c, const ws_ckpt_tensor *t, int64_t rows, int64_t cols, float **out) {
    int ok = cols ? (t->ndim == 2 && t->shape[0] == rows && t->shape[1] == cols)
                  : (t->ndim == 1 && t->shape[0] == rows) || (t->ndim == 2 && t->shape[0] == rows && t->shape[1] == 1);
    if (!ok) return ws_errorf(WS_ERR_SHAPE, "%s: head tensor '%s' has %d dims, expected [%lld%s%lld]", c->path,
                              t->name, t->ndim, (long long)rows, cols ? ", " : "", (long long)(cols ? cols : 0));
    size_t n = (size_t)rows * (size_t)(cols ? cols : 1);
    *out = malloc((n ? n : 1) * sizeof **out);
    if (!*out) return ws_errorf(WS_ERR_NOMEM, "%s: out of memory reading '%s'", c->path, t->name);
    int rc = ckpt_read_f32(t, 0, t->ndim == 2 ? rows : 1, 0, t->ndim == 2 ? t->shape[1] : rows, *out);
    if (rc != WS_OK) {
        free(*out);
        *out = NULL;
    }
    return rc;
}

static int load_mlp(const head_tensors *r, ws_dino_head *h) {
    const char *path = r->c->path;
    for (int l = 0; l < WS_HEAD_MAX_LAYERS && r->w[l]; l++) {
        const ws_ckpt_tensor *w = r->w[l];
        if (w->ndim != 2 || w->shape[0] <= 0 || w->shape[1] <= 0 || w->shape[0] > (1 << 20) || w->shape[1] > (1 << 20))
            return ws_errorf(WS_ERR_SHAPE, "%s: head tensor '%s' is not a Linear weight", path, w->name);
        if (l == 0) h->dims[0] = (int)w->shape[1];
        if (w->shape[1] != h->dims[l])
            return ws_errorf(WS_ERR_SHAPE, "%s: head tensor '%s' takes %lld inputs but the previous layer gives %d",
                             path, w->name, (long long)w->shape[1], h->dims[l]);
        h->dims[l + 1] = (int)w->shape[0];
        h->nlayers = l + 1;
        int rc = read_matrix(r->c, w, w->shape[0], w->shape[1], &h->w[l]);
        if (rc == WS_OK && r->b[l]) rc = read_matrix(r->c, r->b[l], w->shape[0], 0, &h->b[l]);
        if (rc != WS_OK) return rc;
    }
    if (!h->nlayers)
        return ws_errorf(WS_ERR_FORMAT, "%s: no %.*smlp.0.weight (DINO head MLP)", path, (int)r->prefix_len, r->prefix);
    for (int l = h->nlayers; l < WS_HEAD_MAX_LAYERS; l++) {
        const ws_ckpt_tensor *t = r->w[l] ? r->w[l] : r->b[l];
        if (t)
            return ws_errorf(WS_ERR_FORMAT, "%s: head tensor '%s' follows a missing layer (no %.*smlp.%d.weight)",
                             path, t->name, (int)r->prefix_len, r->prefix, 2 * h->nlayers);
    }
    return WS_OK;
}

/* Prototype rows g * v / ||v||, from weight_norm's g and v or a plain weight. */
static int load_last_layer(const head_tensors *r, ws_dino_head *h) {
    const int D = h->dims[h->nlayers];
    const ws_ckpt_tensor *g = r->g, *v = r->v, *plain = r->plain;
    if (!g && !v && !plain) return WS_OK;   /* heads without prototypes: --features proto unavailable */
    if (plain && (g || v))
        return ws_errorf(WS_ERR_FORMAT, "%s: head tensors '%s' and '%s' both give the prototypes", r->c->path,
                         plain->name, (g ? g : v)->name);
    const ws_ckpt_tensor *m = plain ? plain : v;
    if (!m || (!plain && !g))
        return ws_errorf(WS_ERR_FORMAT, "%s: %.*slast_layer has %s but not %s", r->c->path, (int)r->prefix_len,
                         r->prefix, g ? "weight_g" : "weight_v", g ? "weight_v" : "weight_g");
    if (m->ndim != 2 || m->shape[1] != D || m->shape[0] <= 0 || m->shape[0] > (1 << 24))
        return ws_errorf(WS_ERR_SHAPE, "%s: head tensor '%s' should be [K, %d] (bottleneck %d)", r->c->path, m->name, D, D);
    h->K = (int)m->shape[0];
    int rc = read_matrix(r->c, m, h->K, D, &h->proto);
    if (rc != WS_OK || plain) return rc;
    float *gv;
    if ((rc = read_matrix(r->c, g, h->K, 0, &gv)) != WS_OK) return rc;
    for (int k = 0; k < h->K; k++) {
        float *row = h->proto + (size_t)k * D;
        double ss = 0;
        for (int d = 0; d < D; d++) ss += (double)row[d] * row[d];
        float scale = gv[k] / (float)sqrt(ss);
        for (int d = 0; d < D; d++) row[d] *= scale;
    }
    free(gv);
    return WS_OK;
}

int head_load(const ws_ckpt *c, ws_dino_head *h) {
    memset(h, 0, sizeof *h);
    head_tensors r;
    int rc = head_collect(c, &r);
    if (rc == WS_OK) rc = load_mlp(&r, h);
    if (rc == WS_OK) rc = load_last_layer(&r, h);
    if (rc != WS_OK) head_free(h);
    return rc;
}

int head_load_file(const char *path, ws_dino_head *h) {
    ws_ckpt c;
    int rc = ckpt_open(path, &c);
    if (rc != WS_OK) return rc;
    rc = head_load(&c, h);
    ckpt_close(&c);
    return rc;
}

void head_free(ws_dino_head *h) {
    for (int l = 0; l < WS_HEAD_MAX_LAYERS; l++) {
        free(h->w[l]);
        free(h->b[l]);
    }
    free(h->proto);
    memset(h, 0, sizeof *h);
}

int head_forward(const ws_dino_head *h, const float *x, int B, float *z) {
    int maxd = 0;
    for (int l = 1; l < h->nlayers; l++) maxd = h->dims[l] > maxd ? h->dims[l] : maxd;
    float *buf = malloc(((size_t)2 * B * (size_t)maxd + 1) * sizeof *buf);
    if (!buf) return ws_errorf(WS_ERR_NOMEM, "out of memory running the DINO head for %d images", B);
    const float *in = x;
    for (int l = 0; l < h->nlayers; l++) {
        const int K = h->dims[l], N = h->dims[l + 1], last = l == h->nlayers - 1;
        float *out = last ? z : buf + (size_t)(l % 2) * B * (size_t)maxd;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, N, K, 1.0f, in, K, h->w[l], K, 0.0f, out, N);
        for (int i = 0; i < B; i++) {
            float *row = out + (size_t)i * N;
            if (h->b[l])
                for (int j = 0; j < N; j++) row[j] += h->b[l][j];
            if (!last)
                for (int j = 0; j < N; j++) row[j] = 0.5f * row[j] * (1.0f + erff(row[j] * (float)M_SQRT1_2));
        }
        in = out;
    }
    const int D = head_bottleneck(h);
    for (int i = 0; i < B; i++) {
        float *row = z + (size_t)i * D;
        double ss = 0;
        for (int j = 0; j < D; j++) ss += (double)row[j] * row[j];
        float norm = (float)sqrt(ss), inv = 1.0f / (norm > L2_EPS ? norm : L2_EPS);
        for (int j = 0; j < D; j++) row[j] *= inv;
    }
    free(buf);
    return WS_OK;
}

int head_protos(const ws_dino_head *h, const float *z, int B, int32_t *index, float *score) {
    if (!h->K) return ws_errorf(WS_ERR_UNSUPPORTED, "the DINO head has no last layer (prototypes)");
    const int D = head_bottleneck(h);
    float *s = malloc((size_t)B * PROTO_BLOCK * sizeof *s);
    if (!s) return ws_errorf(WS_ERR_NOMEM, "out of memory scoring %d prototypes", h->K);
    for (int i = 0; i < B; i++) {
        index[i] = -1;
        score[i] = -INFINITY;
    }
    for (int k0 = 0; k0 < h->K; k0 += PROTO_BLOCK) {
        int kb = h->K - k0 < PROTO_BLOCK ? h->K - k0 : PROTO_BLOCK;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, kb, D, 1.0f, z, D, h->proto + (size_t)k0 * D, D,
                    0.0f, s, kb);
        for (int i = 0; i < B; i++)
            for (int k = 0; k < kb; k++)
                if (s[(size_t)i * kb + k] > score[i] || index[i] < 0) {
                    score[i] = s[(size_t)i * kb + k];
                    index[i] = k0 + k;
                }
    }
    free(s);
    return WS_OK;
}
