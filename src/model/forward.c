/* The ViT forward pass, in model order: patch embedding, tokens + position embeddings, L pre-norm
 * blocks (attention and FFN branches, each ending in the TP all-reduce, then bias + LayerScale +
 * residual fused with the LayerNorm that follows it), final LayerNorm, outputs. Every op is a
 * backend call (backend/backend.h), so the same code drives the CPU and CUDA backends; the only
 * communication is the two all-reduces per block. Every op's status is checked (OP below).
 * Activations between ops are in m->adt (f32 or bf16); the residual stream x, the patch
 * embeddings and the features stay f32; the all-reduce buffer is m->bdt.
 *
 * Around the pass, the host pipeline (ws_model_upload / submit / collect, webssl.h): images come
 * in through two input slots (uint8 normalised by the backend, or floats), the outputs go out
 * gathered in one buffer and one asynchronous download, and on backends that capture (CUDA) the
 * whole pass is replayed as one graph per shape.
 *
 * Shapes: B images, N tokens (1 + NR + g*g), C channels, NHl heads of size hs on this rank
 * (Cl = NHl*hs), FFN columns Hl on this rank (F = 2 for SwiGLU: gate + linear). */
#include "model/model.h"
#include "common/error.h"

#include <stdint.h>
#include <string.h>

/* Outputs a pass gathers (model_graph.outputs). */
enum { OUT_PATCH_MEAN = 1, OUT_PATCH = 2 };

/* Run one backend op; return its error from the forward pass. */
#define OP(call) do { int op_rc_ = (call); if (op_rc_) return op_rc_; } while (0)

/* (Re)allocate the activations (model/activations.h) for B*N tokens. */
static int ensure_activations(ws_model *m, int B, int N, int g2) {
    const ws_arch *a = &m->arch;
    ws_backend *be = m->be;
    size_t bytes[ACT_COUNT];
    activations_bytes(a, m->tp.NHl, m->tp.Hl, B, N, g2, m->adt, m->bdt, bytes);
    const size_t BN = (size_t)B * N;
    if (BN <= m->act_tokens && bytes[ACT_COLS] <= m->cols_bytes) return WS_OK;
    m->act_tokens = 0;
    m->cols_bytes = 0;
    graph_cache_clear(m);   /* captured passes refer to the buffers that move */
    be->ops->sync(be);
    for (int i = 0; i < ACT_COUNT; i++) {
        if (m->act[i]) be->ops->free(be, m->act[i]);
        m->act[i] = be->ops->alloc(be, bytes[i]);
        if (!m->act[i])
            return ws_errorf(WS_ERR_NOMEM, "%s: cannot allocate activations for %d images of %d tokens "
                             "(try a smaller --batch)", a->name, B, N);
    }
    m->act_tokens = BN;
    m->cols_bytes = bytes[ACT_COLS];
    return WS_OK;
}

static int check_shape(const ws_model *m, int B, int R) {
    const ws_arch *a = &m->arch;
    if (B <= 0) return ws_errorf(WS_ERR_ARG, "batch size %d must be positive", B);
    if (R <= 0 || R % a->patch_size || R / a->patch_size > 4096)
        return ws_errorf(WS_ERR_ARG, "resolution %d is not a positive multiple of the patch size %d of %s",
                         R, a->patch_size, a->name);
    return WS_OK;
}

/* Enqueue the pass on the images of slot `sl` (pixels in), its layers, and the outputs asked
 * for gathered into m->out and downloaded into sl->out_host. Nothing here waits on the host, so
 * that it can be captured. */
static int forward_enqueue(ws_model *m, const model_slot *sl, const float *pos, int outputs) {
    const ws_arch *a = &m->arch;
    const ws_weights *w = &m->w;
    ws_backend *be = m->be;
    const ws_backend_ops *op = be->ops;
    const int B = sl->B, R = sl->R;
    const int P = a->patch_size, C = a->embed_dim, L = a->depth, NR = a->num_register_tokens;
    const int g = R / P, g2 = g * g, N = arch_tokens(a, R), M = B * N;
    const int hs = C / a->num_heads, NHl = m->tp.NHl, Cl = NHl * hs, Hl = m->tp.Hl;
    const int F = a->ffn == WS_FFN_SWIGLU ? 2 : 1, K = 3 * P * P;
    const ws_dtype wdt = w->wdt, adt = m->adt, bdt = m->bdt;
    const int rbf16 = wdt == WS_DTYPE_BF16;
    const float eps = a->norm_eps;
    int rc;

    /* pixels in: uint8 normalised here, floats read where they were uploaded (or lie) */
    const float *pixels = sl->host ? sl->host : sl->buf;
    if (sl->u8) {
        OP(op->normalize(be, m->pix, sl->buf, B, R, sl->mean, sl->std));
        pixels = m->pix;
    }
    /* patch embedding: a stride-P convolution as im2col + GEMM; then CLS, registers, positions */
    OP(op->im2col(be, m->cols, adt, pixels, B, R, P));
    OP(op->matmul(be, m->patches, WS_DTYPE_F32, m->cols, adt, w->patch_w, wdt, w->patch_b, WS_EPILOGUE_NONE,
                  B * g2, C, K));
    OP(op->tokens(be, m->x, m->patches, w->cls, w->reg, pos, B, NR, g2, C));
    OP(op->layernorm(be, m->xn, adt, m->x, w->ln1_w, w->ln1_b, M, C, eps));

    for (int l = 0; l < L; l++) {
        const size_t lc = (size_t)l * C;
        const size_t qkv_w = (size_t)l * 3 * Cl * C, proj_w = (size_t)l * C * Cl;
        const size_t fc1_w = (size_t)l * F * Hl * C, fc2_w = (size_t)l * C * Hl;
        const size_t el = ws_dtype_size(wdt);
        /* attention branch: heads [head0, head0 + NHl) on this rank; xn = layernorm1(x) */
        OP(op->matmul(be, m->qkv, adt, m->xn, adt, (const char *)w->qkv_w + qkv_w * el, wdt,
                      w->qkv_b ? w->qkv_b + (size_t)l * 3 * Cl : NULL, WS_EPILOGUE_NONE, M, 3 * Cl, C));
        OP(op->attention(be, m->att, m->qkv, adt, B, N, NHl, hs, rbf16));
        OP(op->matmul(be, m->branch, bdt, m->att, adt, (const char *)w->proj_w + proj_w * el, wdt, NULL,
                      WS_EPILOGUE_NONE, M, C, Cl));
        if ((rc = comm_allreduce_sum(m->comm, m->branch, (size_t)M * C, bdt))) return rc;
        /* x += ls1 * (branch + proj_b); xn = layernorm2(x) */
        OP(op->residual_layernorm(be, m->x, m->branch, bdt, w->proj_b ? w->proj_b + lc : NULL,
                                  w->ls1 ? w->ls1 + lc : NULL, m->xn, adt, w->ln2_w + lc, w->ln2_b + lc,
                                  M, C, eps));
        /* FFN branch: columns [ffn0, ffn0 + Hl) on this rank */
        const void *fc1 = (const char *)w->fc1_w + fc1_w * el;
        const float *fc1_b = w->fc1_b ? w->fc1_b + (size_t)l * F * Hl : NULL;
        void *hid = m->ffn;
        if (m->fused_swiglu) {   /* gate and product in one pass, straight into hid */
            OP(op->matmul(be, m->hid, adt, m->xn, adt, fc1, wdt, fc1_b, WS_EPILOGUE_SWIGLU, M, Hl, C));
            hid = m->hid;
        } else if (a->ffn == WS_FFN_SWIGLU) {
            OP(op->matmul(be, m->ffn, adt, m->xn, adt, fc1, wdt, fc1_b, WS_EPILOGUE_NONE, M, F * Hl, C));
            OP(op->swiglu(be, m->hid, m->ffn, adt, M, Hl));
            hid = m->hid;
        } else {
            OP(op->matmul(be, m->ffn, adt, m->xn, adt, fc1, wdt, fc1_b, WS_EPILOGUE_GELU, M, F * Hl, C));
        }
        OP(op->matmul(be, m->branch, bdt, hid, adt, (const char *)w->fc2_w + fc2_w * el, wdt, NULL,
                      WS_EPILOGUE_NONE, M, C, Hl));
        if ((rc = comm_allreduce_sum(m->comm, m->branch, (size_t)M * C, bdt))) return rc;
        /* x += ls2 * (branch + fc2_b); then xn = the next block's layernorm1(x), or after the last
         * block x = the final LayerNorm(x), in place (f32: the features) */
        const int last = l == L - 1;
        const float *ln_w = last ? w->lnf_w : w->ln1_w + lc + C, *ln_b = last ? w->lnf_b : w->ln1_b + lc + C;
        OP(op->residual_layernorm(be, m->x, m->branch, bdt, w->fc2_b ? w->fc2_b + lc : NULL,
                                  w->ls2 ? w->ls2 + lc : NULL, last ? (void *)m->x : m->xn,
                                  last ? WS_DTYPE_F32 : adt, ln_w, ln_b, M, C, eps));
    }

    /* outputs (the features are in x): CLS, patch mean, patch tokens gathered in m->out
     * ([B,C], [B,C], [B,g2,C]), one download */
    const size_t row = (size_t)C * sizeof(float), pitch = (size_t)N * row, BC = (size_t)B * C;
    if ((rc = op->copy_rows(be, m->out, m->x, row, pitch, B))) return rc;
    if (outputs & OUT_PATCH_MEAN) OP(op->token_mean(be, m->out + BC, m->x, B, N, 1 + NR, C));
    if ((outputs & OUT_PATCH) &&
        (rc = op->copy_rows(be, m->out + 2 * BC, m->x + (size_t)(1 + NR) * C, (size_t)g2 * row, pitch, B)))
        return rc;
    const size_t elems = (outputs & OUT_PATCH) ? (2 + (size_t)g2) * BC : 2 * BC;
    return op->download_async(be, sl->out_host, m->out, elems * sizeof(float));
}

/* The pass, captured as a graph on its shape's second run and replayed from then on when the
 * backend and the communicator can (webssl.h); eager otherwise. */
static int forward_run(ws_model *m, int slot, const float *pos, int outputs) {
    ws_backend *be = m->be;
    const model_slot *sl = &m->slot[slot];
    if (!be->ops->graph_capturable(be) || !m->comm->ops->capturable) return forward_enqueue(m, sl, pos, outputs);
    model_graph *gr = graph_cache_find(m, sl->B, sl->R, slot, sl->u8, outputs);
    if (!gr->graph && gr->seen++ < 1) return forward_enqueue(m, sl, pos, outputs);   /* sizes settle */
    int rc;
    if (!gr->graph) {
        if ((rc = be->ops->graph_begin(be))) return rc;
        rc = forward_enqueue(m, sl, pos, outputs);
        void *graph = NULL;
        int rc2 = be->ops->graph_end(be, &graph);
        if (rc || rc2) return rc ? rc : rc2;
        gr->graph = graph;
    }
    return be->ops->graph_launch(be, gr->graph);
}

/* Grow a slot's backend buffer to `bytes` (the ops that read the old one finished first). */
static int slot_reserve(ws_model *m, model_slot *sl, size_t bytes) {
    if (bytes <= sl->bytes) return WS_OK;
    ws_backend *be = m->be;
    graph_cache_clear(m);
    be->ops->sync(be);
    be->ops->upload_wait(be);
    be->ops->free(be, sl->buf);
    sl->bytes = 0;
    if (!(sl->buf = be->ops->alloc(be, bytes)))
        return ws_errorf(WS_ERR_NOMEM, "%s: cannot allocate %zu bytes for an input batch (try a smaller --batch)",
                         m->arch.name, bytes);
    sl->bytes = bytes;
    return WS_OK;
}

int ws_model_input_u8(const ws_model *m) { return m->be->ops->normalises_u8; }

int ws_model_upload(ws_model *m, int slot, const float *pixels, const uint8_t *u8, const float mean[3],
                    const float std[3], int B, int R) {
    int rc;
    if (slot < 0 || slot > 1) return ws_errorf(WS_ERR_ARG, "input slot %d is not 0 or 1", slot);
    if (!pixels == !u8) return ws_errorf(WS_ERR_ARG, "ws_model_upload: give either float or uint8 images");
    if (u8 && (!mean || !std)) return ws_errorf(WS_ERR_ARG, "ws_model_upload: uint8 images need mean and std");
    if ((rc = check_shape(m, B, R))) return rc;
    ws_backend *be = m->be;
    model_slot *sl = &m->slot[slot];
    const size_t n = (size_t)B * 3 * R * R, bytes = u8 ? n : n * sizeof(float);
    sl->B = 0;
    sl->host = NULL;
    if (pixels && be->host_memory) {
        sl->host = pixels;   /* read in place */
    } else {
        if ((rc = slot_reserve(m, sl, bytes))) return rc;
        if ((rc = be->ops->slot_upload(be, slot, sl->buf, u8 ? (const void *)u8 : (const void *)pixels, bytes)))
            return rc;
    }
    sl->u8 = u8 != NULL;
    if (u8 && (memcmp(sl->mean, mean, sizeof sl->mean) || memcmp(sl->std, std, sizeof sl->std))) {
        graph_cache_clear(m);   /* captured passes hold the old constants */
        memcpy(sl->mean, mean, sizeof sl->mean);
        memcpy(sl->std, std, sizeof sl->std);
    }
    sl->B = B;
    sl->R = R;
    return WS_OK;
}

int ws_model_submit(ws_model *m, int slot, ws_features *out) {
    if (slot < 0 || slot > 1 || !m->slot[slot].B)
        return ws_errorf(WS_ERR_ARG, "input slot %d holds no images (ws_model_upload first)", slot);
    model_slot *sl = &m->slot[slot];
    if (sl->pending_B)
        return ws_errorf(WS_ERR_ARG, "slot %d: its last pass is not collected (ws_model_collect first)", slot);
    const int B = sl->B, R = sl->R, g = R / m->arch.patch_size, g2 = g * g;
    int rc = ensure_activations(m, B, arch_tokens(&m->arch, R), g2);
    if (rc) return rc;
    ws_backend *be = m->be;
    const int outputs = (out->patch_mean ? OUT_PATCH_MEAN : 0) | (out->patch ? OUT_PATCH : 0);
    const size_t elems = (size_t)B * (2 + (outputs & OUT_PATCH ? (size_t)g2 : 0)) * m->arch.embed_dim;
    if (elems > sl->out_host_elems) {
        graph_cache_clear(m);
        be->ops->sync(be);
        be->ops->host_free(be, sl->out_host);
        sl->out_host_elems = 0;
        if (!(sl->out_host = be->ops->host_alloc(be, elems * sizeof(float))))
            return ws_errorf(WS_ERR_NOMEM, "%s: cannot allocate host memory for the outputs of %d images",
                             m->arch.name, B);
        sl->out_host_elems = elems;
    }
    const float *pos = model_posembed(m, R);
    if (!pos) return WS_ERR_NOMEM;
    if ((rc = forward_run(m, slot, pos, outputs))) return rc;
    if ((rc = be->ops->slot_release(be, slot))) return rc;
    sl->pending = *out;
    sl->pending_B = B;
    sl->pending_g2 = g2;
    return WS_OK;
}

int ws_model_collect(ws_model *m, int slot) {
    if (slot < 0 || slot > 1 || !m->slot[slot].pending_B)
        return ws_errorf(WS_ERR_ARG, "no forward pass submitted on slot %d", slot);
    model_slot *sl = &m->slot[slot];
    const size_t BC = (size_t)sl->pending_B * m->arch.embed_dim;
    const ws_features *o = &sl->pending;
    sl->pending_B = 0;
    int rc = m->be->ops->slot_wait(m->be, slot);
    if (rc) return rc;
    memcpy(o->cls, sl->out_host, BC * sizeof(float));
    if (o->patch_mean) memcpy(o->patch_mean, sl->out_host + BC, BC * sizeof(float));
    if (o->patch) memcpy(o->patch, sl->out_host + 2 * BC, BC * (size_t)sl->pending_g2 * sizeof(float));
    return WS_OK;
}

int ws_model_forward(ws_model *m, const float *pixels, int B, int R, ws_features *out) {
    int rc = ws_model_upload(m, 0, pixels, NULL, NULL, NULL, B, R);
    if (rc == WS_OK) rc = ws_model_submit(m, 0, out);
    if (rc == WS_OK) rc = ws_model_collect(m, 0);
    return rc;
}
