/* Model construction: the one weight allocation per rank, filled either from a checkpoint (through
 * the name map, with shape/dtype checks, dtype conversion and TP slicing) or with deterministic
 * pseudo-random values; plus the small accessors of webssl.h. */
#include "model/model.h"
#include "common/error.h"
#include "common/log.h"
#include "loaders/arch_match.h"
#include "loaders/checkpoint.h"
#include "loaders/namemap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ws_model_options_init(ws_model_options *o) {
    memset(o, 0, sizeof *o);
    o->device = "cpu";
    o->compute = WS_DTYPE_F32;
    o->allreduce = WS_DTYPE_F32;
    o->posembed = WS_POSEMBED_HF;
    o->tp_size = 1;
}

const char *ws_version(void) { return WEBSSL_VERSION; }

const ws_arch *ws_model_arch(const ws_model *m) { return &m->arch; }

size_t ws_model_weight_bytes(const ws_model *m) { return m->wbytes; }

const char *ws_model_gemm_info(const ws_model *m) { return m->gemm_info; }

int model_alloc(const ws_arch *a, const ws_model_options *o, ws_model **out) {
    *out = NULL;
    int rc = arch_validate(a);
    if (rc) return rc;
    if (o->compute != WS_DTYPE_F32 && o->compute != WS_DTYPE_BF16)
        return ws_errorf(WS_ERR_ARG, "compute dtype %s is not supported (fp32 or bf16)", ws_dtype_name(o->compute));
    if (o->allreduce != WS_DTYPE_F32 && o->allreduce != WS_DTYPE_BF16)
        return ws_errorf(WS_ERR_ARG, "all-reduce dtype %s is not supported (fp32 or bf16)", ws_dtype_name(o->allreduce));
    if (o->tp_size > 1 && (!o->comm || o->comm->size != o->tp_size || o->comm->rank != o->tp_rank))
        return ws_errorf(WS_ERR_ARG, "tensor parallelism %d needs a communicator of that size with rank %d",
                         o->tp_size, o->tp_rank);
    ws_model *m = calloc(1, sizeof *m);
    if (!m) return ws_errorf(WS_ERR_NOMEM, "out of memory");
    m->arch = *a;
    m->opt = *o;
    m->opt.arch = NULL;
    if ((rc = weights_tp_slice(a, o->tp_rank, o->tp_size, &m->tp))) goto fail;
    m->be = o->backend;
    if (!m->be) {
        if ((rc = backend_create(o->device ? o->device : "cpu", o->threads, o->device_index, &m->be))) goto fail;
        m->own_be = 1;
    }
    if ((rc = m->be->ops->gemm_select(m->be, o->compute, WS_GEMM_MODEL, m->gemm_info, sizeof m->gemm_info))) goto fail;
    m->adt = m->be->ops->activation_dtype(m->be, o->compute);
    m->fused_swiglu = a->ffn == WS_FFN_SWIGLU && m->be->ops->fuses_swiglu(m->be, o->compute);
    m->bdt = o->tp_size > 1 ? o->allreduce : WS_DTYPE_F32;   /* one rank: nothing is summed, keep f32 */
    m->comm = o->comm;
    if (!m->comm) {
        if (!(m->comm = comm_self_create())) {
            rc = ws_errorf(WS_ERR_NOMEM, "out of memory");
            goto fail;
        }
        m->own_comm = 1;
    }
    size_t bytes[WS_W_COUNT];
    m->wbytes = weights_sizes(a, &m->tp, o->compute, bytes);
    m->wmem = m->be->ops->alloc(m->be, m->wbytes);
    if (!m->wmem) {
        rc = ws_errorf(WS_ERR_NOMEM, "%s: cannot allocate %zu bytes of weights", a->name, m->wbytes);
        goto fail;
    }
    weights_assign(&m->w, a, &m->tp, o->compute, m->wmem);
    *out = m;
    return WS_OK;
fail:
    ws_model_free(m);
    return rc;
}

/* A source of one field's full (unsplit) values for one layer, read by 2-D windows of its logical
 * view [rows, K] (vectors: K = 1). */
typedef struct {
    int (*read)(void *ctx, int64_t r0, int64_t nr, int64_t c0, int64_t nc, float *dst);
    void *ctx;
} field_source;

/* Fill field `f` of layer `layer` (-1 when not per layer), row groups [g0, g0+ng), of the host
 * image `w` of the weights from `src`, keeping only this rank's slice. `tmp` holds one layer's
 * full field in f32. */
static int fill_field(const ws_model *m, ws_weights *w, ws_field f, int layer, int g0, int ng,
                      const field_source *src, float *tmp) {
    const ws_arch *a = &m->arch;
    const ws_field_info *fi = weights_field_info(f);
    int64_t d[4];
    int nd = weights_field_shape(a, f, d);
    int64_t K = 1;
    for (int i = 1; i < nd; i++) K *= d[i];
    const int groups = weights_field_groups(a, f), hs = a->embed_dim / a->num_heads;
    const int64_t Rg = d[0] / groups;
    size_t layer_numel = weights_field_numel(a, &m->tp, f) / (fi->per_layer ? (size_t)a->depth : 1);
    size_t el = fi->matrix ? ws_dtype_size(w->wdt) : sizeof(float);
    char *dst = (char *)*weights_field_ptr(w, f) + (layer > 0 ? (size_t)layer : 0) * layer_numel * el;
    int off = 0, len = 0, rc = WS_OK;
    switch (fi->split) {
    case WS_SPLIT_HEAD_ROWS: case WS_SPLIT_HEAD_COLS: off = m->tp.head0 * hs; len = m->tp.NHl * hs; break;
    case WS_SPLIT_FFN_ROWS: case WS_SPLIT_FFN_COLS: off = m->tp.ffn0; len = m->tp.Hl; break;
    case WS_SPLIT_NONE: break;
    }
    size_t n = 0;   /* elements to store from tmp to dst + dst_off */
    size_t dst_off = 0;
    if (fi->split == WS_SPLIT_NONE) {
        rc = src->read(src->ctx, 0, d[0], 0, K, tmp);
        n = (size_t)d[0] * (size_t)K;
    } else if (fi->split == WS_SPLIT_HEAD_COLS || fi->split == WS_SPLIT_FFN_COLS) {
        rc = src->read(src->ctx, 0, d[0], off, len, tmp);
        n = (size_t)d[0] * (size_t)len;
    } else {
        for (int g = g0; g < g0 + ng && !rc; g++) {
            size_t block = (size_t)len * (size_t)K;
            rc = src->read(src->ctx, (int64_t)(g - g0) * Rg + off, len, 0, K, tmp + (size_t)(g - g0) * block);
        }
        n = (size_t)ng * (size_t)len * (size_t)K;
        dst_off = (size_t)g0 * (size_t)len * (size_t)K;
    }
    if (rc) return rc;
    if (fi->matrix) ws_convert_from_f32(dst + dst_off * el, w->wdt, tmp, n);
    else memcpy(dst + dst_off * el, tmp, n * sizeof(float));
    return WS_OK;
}

/* Largest full per-layer field, in elements (size of the f32 staging buffer). */
static size_t max_field_numel(const ws_arch *a) {
    size_t mx = 0;
    for (int f = 0; f < WS_W_COUNT; f++) {
        int64_t d[4];
        int nd = weights_field_shape(a, (ws_field)f, d);
        size_t n = 1;
        for (int i = 0; i < nd; i++) n *= (size_t)d[i];
        mx = n > mx ? n : mx;
    }
    return mx;
}

/* The host image of the weights: the allocation itself on a host backend, else a staging copy. */
static void *host_image(ws_model *m, ws_weights *hw) {
    void *h = m->be->host_memory ? m->wmem : malloc(m->wbytes);
    if (h) weights_assign(hw, &m->arch, &m->tp, m->opt.compute, h);
    return h;
}

static void finish_host_image(ws_model *m, void *h) {
    if (h != m->wmem) {
        m->be->ops->upload(m->be, m->wmem, h, m->wbytes);
        m->be->ops->sync(m->be);
        free(h);
    }
}

/* ---- checkpoint source ---- */

static int ckpt_source_read(void *ctx, int64_t r0, int64_t nr, int64_t c0, int64_t nc, float *dst) {
    const ws_ckpt_tensor *t = ctx;
    int64_t numel = ckpt_numel(t);
    if (t->ndim == 1) return ckpt_read_f32(t, 0, 1, r0, nr, dst);   /* a vector is one row */
    if (nr * nc == numel)   /* whole tensor, whatever its leading size-1 dims */
        return ckpt_read_f32(t, 0, t->shape[0], 0, t->shape[0] ? numel / t->shape[0] : 0, dst);
    return ckpt_read_f32(t, r0, nr, c0, nc, dst);
}

int ws_model_load(const char *path, const ws_model_options *o, ws_model **out) {
    *out = NULL;
    ws_ckpt c;
    int rc = ckpt_open(path, &c);
    if (rc) return rc;
    rc = ws_model_load_ckpt(&c, o, out);
    ckpt_close(&c);
    return rc;
}

int ws_model_load_ckpt(const ws_ckpt *c, const ws_model_options *o, ws_model **out) {
    *out = NULL;
    const char *path = c->path;
    int rc;
    ws_arch a;
    ws_name_binding *b = NULL;
    size_t nb = 0;
    ws_model *m = NULL;
    float *tmp = NULL;
    void *h = NULL;
    if ((rc = arch_for_checkpoint(c, o->arch, &a))) goto done;
    const ws_name_layout *layout = namemap_choose(c, &a);
    if (!layout) {
        rc = ws_errorf(WS_ERR_UNSUPPORTED, "%s: no tensor name layout for family %s", path, arch_family_name(a.family));
        goto done;
    }
    if ((rc = namemap_bind(c, layout, &a, &b, &nb))) goto done;
    if ((rc = model_alloc(&a, o, &m))) goto done;
    tmp = malloc(max_field_numel(&a) * sizeof(float));
    ws_weights hw;
    h = host_image(m, &hw);
    if (!tmp || !h) {
        rc = ws_errorf(WS_ERR_NOMEM, "%s: out of memory while loading", path);
        goto done;
    }
    for (size_t i = 0; i < nb && !rc; i++) {
        const ws_name_entry *e = b[i].entry;
        int groups = weights_field_groups(&a, e->field);
        field_source src = {ckpt_source_read, (void *)b[i].tensor};
        rc = fill_field(m, &hw, e->field, b[i].layer, e->ngroups ? e->group0 : 0,
                        e->ngroups ? e->ngroups : groups, &src, tmp);
        if (rc) ws_error_context(rc, "%s: tensor '%s'", path, b[i].tensor->name);
    }
    if (!rc) {
        finish_host_image(m, h);
        h = NULL;
        LOG_DEBUG("%s: loaded %zu tensors (layout %s) as %s, tp rank %d/%d, %zu weight bytes", path, nb,
                  layout->name, a.name, m->tp.tp_rank, m->tp.tp_size, m->wbytes);
    }
done:
    if (h && m && h != m->wmem) free(h);
    free(tmp);
    free(b);
    if (rc) ws_model_free(m);
    else *out = m;
    return rc;
}

/* ---- random source ---- */

typedef struct {
    uint64_t key;     /* seed, field and layer mixed */
    int64_t K;        /* full columns of the field's logical view */
    float scale, shift;
} random_source;

static uint64_t splitmix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static int random_source_read(void *ctx, int64_t r0, int64_t nr, int64_t c0, int64_t nc, float *dst) {
    const random_source *s = ctx;
    for (int64_t r = 0; r < nr; r++)
        for (int64_t k = 0; k < nc; k++) {
            uint64_t u = splitmix64(s->key ^ (uint64_t)((r0 + r) * s->K + c0 + k));
            float x = (float)((u >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f;   /* uniform [-1, 1) */
            dst[r * nc + k] = s->shift + s->scale * x;
        }
    return WS_OK;
}

int ws_model_create_random(const ws_arch *a, uint64_t seed, const ws_model_options *o, ws_model **out) {
    ws_model *m = NULL;
    int rc = model_alloc(a, o, &m);
    if (rc) return rc;
    float *tmp = malloc(max_field_numel(a) * sizeof(float));
    ws_weights hw;
    void *h = host_image(m, &hw);
    if (!tmp || !h) {
        free(tmp);
        if (h && h != m->wmem) free(h);
        ws_model_free(m);
        return ws_errorf(WS_ERR_NOMEM, "%s: out of memory for random weights", a->name);
    }
    for (int f = 0; f < WS_W_COUNT; f++) {
        if (!weights_field_present(a, (ws_field)f)) continue;
        const ws_field_info *fi = weights_field_info((ws_field)f);
        int64_t d[4];
        int nd = weights_field_shape(a, (ws_field)f, d);
        int64_t K = 1;
        for (int i = 1; i < nd; i++) K *= d[i];
        random_source rs = {.K = K, .scale = 0.02f, .shift = 0.0f};
        switch ((ws_field)f) {
        case WS_W_LN1_W: case WS_W_LN2_W: case WS_W_LNF_W: rs.scale = 0.2f; rs.shift = 1.0f; break;
        case WS_W_LN1_B: case WS_W_LN2_B: case WS_W_LNF_B: rs.scale = 0.1f; break;
        case WS_W_LS1: case WS_W_LS2: rs.scale = 0.4f; rs.shift = 0.5f; break;
        case WS_W_CLS: case WS_W_REG: case WS_W_POS: rs.scale = 0.5f; break;
        default:
            if (fi->matrix) rs.scale = sqrtf(3.0f / (float)K);   /* variance 1 / fan_in */
            break;
        }
        for (int l = 0; l < (fi->per_layer ? a->depth : 1); l++) {
            rs.key = splitmix64(seed ^ splitmix64((uint64_t)f * 1000003u + (uint64_t)l));
            field_source src = {random_source_read, &rs};
            if ((rc = fill_field(m, &hw, (ws_field)f, fi->per_layer ? l : -1, 0,
                                 weights_field_groups(a, (ws_field)f), &src, tmp)))
                break;
        }
        if (rc) break;
    }
    free(tmp);
    if (rc) {
        if (h != m->wmem) free(h);
        ws_model_free(m);
        return rc;
    }
    finish_host_image(m, h);
    *out = m;
    return WS_OK;
}

void ws_model_free(ws_model *m) {
    if (!m) return;
    if (m->be) {
        graph_cache_clear(m);
        m->be->ops->sync(m->be);
        m->be->ops->upload_wait(m->be);
        for (int s = 0; s < 2; s++) {
            m->be->ops->free(m->be, m->slot[s].buf);
            m->be->ops->host_free(m->be, m->slot[s].out_host);
        }
        for (int i = 0; i < ACT_COUNT; i++)
            if (m->act[i]) m->be->ops->free(m->be, m->act[i]);
        if (m->pos_cur) m->be->ops->free(m->be, m->pos_cur);
        if (m->wmem) m->be->ops->free(m->be, m->wmem);
        if (m->own_be) backend_free(m->be);
    }
    if (m->own_comm) comm_free(m->comm);
    free(m);
}
