/* The ViT forward pass, in model order: patch embedding, tokens + position embeddings, L pre-norm
 * blocks (attention and FFN branches, each ending in the TP all-reduce, then bias + LayerScale +
 * residual), final LayerNorm, outputs. Every op is a backend call (backend/backend.h), so the same
 * code drives the CPU and CUDA backends; the only communication is the two all-reduces per block.
 *
 * Shapes: B images, N tokens (1 + NR + g*g), C channels, NHl heads of size hs on this rank
 * (Cl = NHl*hs), FFN columns Hl on this rank (F = 2 for SwiGLU: gate + linear). */
#include "model/model.h"
#include "common/error.h"

#include <stdint.h>

/* (Re)allocate the activations (model/activations.h) for B*N tokens. */
static int ensure_activations(ws_model *m, int B, int N, int g2) {
    const ws_arch *a = &m->arch;
    ws_backend *be = m->be;
    size_t elems[ACT_COUNT];
    activations_elems(a, m->tp.NHl, m->tp.Hl, B, N, g2, be->host_memory, elems);
    const size_t BN = (size_t)B * N;
    if (BN <= m->act_tokens && elems[ACT_COLS] <= m->cols_elems) return WS_OK;
    m->act_tokens = 0;
    m->cols_elems = 0;
    for (int i = 0; i < ACT_COUNT; i++) {
        if (m->act[i]) be->ops->free(be, m->act[i]);
        m->act[i] = be->ops->alloc(be, elems[i] * sizeof(float));
        if (!m->act[i])
            return ws_errorf(WS_ERR_NOMEM, "%s: cannot allocate activations for %d images of %d tokens "
                             "(try a smaller --batch)", a->name, B, N);
    }
    m->act_tokens = BN;
    m->cols_elems = elems[ACT_COLS];
    return WS_OK;
}

int ws_model_forward(ws_model *m, const float *pixels, int B, int R, ws_features *out) {
    const ws_arch *a = &m->arch;
    const ws_weights *w = &m->w;
    ws_backend *be = m->be;
    const ws_backend_ops *op = be->ops;
    if (B <= 0) return ws_errorf(WS_ERR_ARG, "batch size %d must be positive", B);
    if (R <= 0 || R % a->patch_size || R / a->patch_size > 4096)
        return ws_errorf(WS_ERR_ARG, "resolution %d is not a positive multiple of the patch size %d of %s",
                         R, a->patch_size, a->name);
    const int P = a->patch_size, C = a->embed_dim, L = a->depth, NR = a->num_register_tokens;
    const int g = R / P, g2 = g * g, N = arch_tokens(a, R), M = B * N;
    const int hs = C / a->num_heads, NHl = m->tp.NHl, Cl = NHl * hs, Hl = m->tp.Hl;
    const int F = a->ffn == WS_FFN_SWIGLU ? 2 : 1, K = 3 * P * P;
    const ws_dtype wdt = w->wdt;
    const int rbf16 = wdt == WS_DTYPE_BF16;
    const float eps = a->norm_eps;
    int rc = ensure_activations(m, B, N, g2);
    if (rc) return rc;
    const float *pos = model_posembed(m, R);
    if (!pos) return WS_ERR_NOMEM;

    /* patch embedding: a stride-P convolution as im2col + GEMM; then CLS, registers, positions */
    float *cols = m->cols;
    if (be->host_memory) {
        op->im2col(be, cols, pixels, B, R, P);
    } else {
        op->upload(be, m->pix, pixels, (size_t)B * 3 * R * R * sizeof(float));
        op->im2col(be, cols, m->pix, B, R, P);
    }
    op->matmul(be, m->patches, cols, w->patch_w, wdt, w->patch_b, B * g2, C, K);
    op->tokens(be, m->x, m->patches, w->cls, w->reg, pos, B, NR, g2, C);

    for (int l = 0; l < L; l++) {
        const size_t lc = (size_t)l * C;
        const size_t qkv_w = (size_t)l * 3 * Cl * C, proj_w = (size_t)l * C * Cl;
        const size_t fc1_w = (size_t)l * F * Hl * C, fc2_w = (size_t)l * C * Hl;
        const size_t el = ws_dtype_size(wdt);
        /* attention branch: heads [head0, head0 + NHl) on this rank */
        op->layernorm(be, m->xn, m->x, w->ln1_w + lc, w->ln1_b + lc, M, C, eps);
        op->matmul(be, m->qkv, m->xn, (const char *)w->qkv_w + qkv_w * el, wdt,
                   w->qkv_b ? w->qkv_b + (size_t)l * 3 * Cl : NULL, M, 3 * Cl, C);
        op->attention(be, m->att, m->qkv, B, N, NHl, hs, rbf16);
        op->matmul(be, m->branch, m->att, (const char *)w->proj_w + proj_w * el, wdt, NULL, M, C, Cl);
        if ((rc = comm_allreduce_sum(m->comm, m->branch, (size_t)M * C, WS_DTYPE_F32))) return rc;
        op->residual(be, m->x, m->branch, w->proj_b ? w->proj_b + lc : NULL, w->ls1 ? w->ls1 + lc : NULL, M, C);
        /* FFN branch: columns [ffn0, ffn0 + Hl) on this rank */
        op->layernorm(be, m->xn, m->x, w->ln2_w + lc, w->ln2_b + lc, M, C, eps);
        op->matmul(be, m->ffn, m->xn, (const char *)w->fc1_w + fc1_w * el, wdt,
                   w->fc1_b ? w->fc1_b + (size_t)l * F * Hl : NULL, M, F * Hl, C);
        float *hid = m->ffn;
        if (a->ffn == WS_FFN_SWIGLU) {
            op->swiglu(be, m->hid, m->ffn, M, Hl);
            hid = m->hid;
        } else {
            op->gelu(be, m->ffn, (size_t)M * Hl);
        }
        op->matmul(be, m->branch, hid, (const char *)w->fc2_w + fc2_w * el, wdt, NULL, M, C, Hl);
        if ((rc = comm_allreduce_sum(m->comm, m->branch, (size_t)M * C, WS_DTYPE_F32))) return rc;
        op->residual(be, m->x, m->branch, w->fc2_b ? w->fc2_b + lc : NULL, w->ls2 ? w->ls2 + lc : NULL, M, C);
    }

    /* final LayerNorm and outputs */
    op->layernorm(be, m->xn, m->x, w->lnf_w, w->lnf_b, M, C, eps);
    for (int b = 0; b < B; b++) {
        const float *tok = m->xn + (size_t)b * N * C;
        op->download(be, out->cls + (size_t)b * C, tok, (size_t)C * sizeof(float));
        if (out->patch)
            op->download(be, out->patch + (size_t)b * g2 * C, tok + (size_t)(1 + NR) * C,
                         (size_t)g2 * C * sizeof(float));
    }
    if (out->patch_mean) {
        op->token_mean(be, m->feat, m->xn, B, N, 1 + NR, C);
        op->download(be, out->patch_mean, m->feat, (size_t)B * C * sizeof(float));
    }
    op->sync(be);
    return WS_OK;
}
