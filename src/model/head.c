/* DINO head: reading its tensors and running it on the host with BLAS (see head.h). */
#include "model/head.h"
#include "common/error.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEAD_TAG "dino_head."
#define NAME_MAX_LEN 512
#define L2_EPS 1e-12f
#define PROTO_BLOCK 8192   /* prototypes scored per GEMM, bounds the score buffer */

typedef struct {
    const ws_ckpt *c;
    char prefix[NAME_MAX_LEN];   /* everything up to and including "dino_head." */
    unsigned char *used;         /* per checkpoint tensor */
} head_reader;

static const ws_ckpt_tensor *lookup(head_reader *r, const char *rel) {
    char name[2 * NAME_MAX_LEN];
    snprintf(name, sizeof name, "%s%s", r->prefix, rel);
    const ws_ckpt_tensor *t = ckpt_find(r->c, name);
    if (t) r->used[t - r->c->tensors] = 1;
    return t;
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

static int load_mlp(head_reader *r, ws_dino_head *h) {
    char rel[64];
    for (int l = 0;; l++) {
        snprintf(rel, sizeof rel, "mlp.%d.weight", 2 * l);
        const ws_ckpt_tensor *w = lookup(r, rel);
        if (!w && l == 0) w = lookup(r, "mlp.weight");   /* nlayers 1: mlp is the Linear itself */
        if (!w) break;
        if (l == WS_HEAD_MAX_LAYERS)
            return ws_errorf(WS_ERR_UNSUPPORTED, "%s: DINO head with more than %d layers", r->c->path, WS_HEAD_MAX_LAYERS);
        if (w->ndim != 2 || w->shape[0] <= 0 || w->shape[1] <= 0 || w->shape[0] > (1 << 20) || w->shape[1] > (1 << 20))
            return ws_errorf(WS_ERR_SHAPE, "%s: head tensor '%s' is not a Linear weight", r->c->path, w->name);
        if (l == 0) h->dims[0] = (int)w->shape[1];
        if (w->shape[1] != h->dims[l])
            return ws_errorf(WS_ERR_SHAPE, "%s: head tensor '%s' takes %lld inputs but the previous layer gives %d",
                             r->c->path, w->name, (long long)w->shape[1], h->dims[l]);
        h->dims[l + 1] = (int)w->shape[0];
        h->nlayers = l + 1;
        int rc = read_matrix(r->c, w, w->shape[0], w->shape[1], &h->w[l]);
        if (rc != WS_OK) return rc;
        int single = !strcmp(w->name + strlen(r->prefix), "mlp.weight");
        if (single) snprintf(rel, sizeof rel, "mlp.bias");
        else snprintf(rel, sizeof rel, "mlp.%d.bias", 2 * l);
        const ws_ckpt_tensor *b = lookup(r, rel);
        if (b && (rc = read_matrix(r->c, b, w->shape[0], 0, &h->b[l])) != WS_OK) return rc;
        if (single) break;
    }
    if (!h->nlayers) return ws_errorf(WS_ERR_FORMAT, "%s: no %smlp.0.weight (DINO head MLP)", r->c->path, r->prefix);
    return WS_OK;
}

/* Prototype rows g * v / ||v||, from weight_norm's g and v or a plain weight. */
static int load_last_layer(head_reader *r, ws_dino_head *h) {
    const int D = h->dims[h->nlayers];
    const ws_ckpt_tensor *g = lookup(r, "last_layer.weight_g"), *v = lookup(r, "last_layer.weight_v");
    if (!g && !v) {
        g = lookup(r, "last_layer.parametrizations.weight.original0");
        v = lookup(r, "last_layer.parametrizations.weight.original1");
    }
    const ws_ckpt_tensor *plain = (!g && !v) ? lookup(r, "last_layer.weight") : NULL;
    if (!g && !v && !plain) return WS_OK;   /* heads without prototypes: --features proto unavailable */
    const ws_ckpt_tensor *m = plain ? plain : v;
    if (!m || (!plain && !g))
        return ws_errorf(WS_ERR_FORMAT, "%s: %slast_layer has %s but not %s", r->c->path, r->prefix,
                         g ? "weight_g" : "weight_v", g ? "weight_v" : "weight_g");
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

/* Sets r->prefix from the first tensor whose name contains "dino_head." at a name boundary. */
static int find_prefix(head_reader *r) {
    for (size_t i = 0; i < r->c->num_tensors; i++) {
        const char *name = r->c->tensors[i].name, *p = strstr(name, HEAD_TAG);
        if (!p || (p != name && p[-1] != '.')) continue;
        size_t n = (size_t)(p - name) + strlen(HEAD_TAG);
        if (n >= sizeof r->prefix) continue;
        memcpy(r->prefix, name, n);
        r->prefix[n] = '\0';
        return WS_OK;
    }
    return ws_errorf(WS_ERR_FORMAT, "%s: no DINO head tensors (dino_head.*): pass an SSL teacher or heads "
                     "checkpoint", r->c->path);
}

int head_load(const ws_ckpt *c, ws_dino_head *h) {
    memset(h, 0, sizeof *h);
    head_reader r = {.c = c, .used = calloc(c->num_tensors ? c->num_tensors : 1, 1)};
    if (!r.used) return ws_errorf(WS_ERR_NOMEM, "%s: out of memory", c->path);
    int rc = find_prefix(&r);
    if (rc == WS_OK) rc = load_mlp(&r, h);
    if (rc == WS_OK) rc = load_last_layer(&r, h);
    for (size_t i = 0; rc == WS_OK && i < c->num_tensors; i++)
        if (!r.used[i] && !strncmp(c->tensors[i].name, r.prefix, strlen(r.prefix)))
            rc = ws_errorf(WS_ERR_FORMAT, "%s: head tensor '%s' is not part of a DINO head (batch-norm and "
                           "other variants are not supported)", c->path, c->tensors[i].name);
    free(r.used);
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
