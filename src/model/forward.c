/* The ViT forward pass, in model order: patch embedding, tokens + position embeddings, L pre-norm
 * blocks (attention and FFN branches, each ending in the TP all-reduce, then bias + LayerScale +
 * residual fused with the LayerNorm that follows it), final LayerNorm, outputs. Every op is a
 * backend call (backend/backend.h), so the same code drives the CPU and CUDA backends; the only
 * communication is the two all-reduces per block. Every op's status is checked (OP below).
 * Activations between ops are in m->adt (f32 or bf16); the residual stream x, the patch
 * embeddings and the features stay f32; the all-reduce buffer is m->bdt.
 *
 * Shapes: B images, N tokens (1 + NR + g*g), C channels, NHl heads of size hs on this rank
 * (Cl = NHl*hs), FFN columns Hl on this rank (F = 2 for SwiGLU: gate + linear). */
#include "model/model.h"
#include "common/error.h"

#include <stdint.h>

/* Run one backend op; return its error from the forward pass. */
#define OP(call) do { int op_rc_ = (call); if (op_rc_) return op_rc_; } while (0)

/* (Re)allocate the activations (model/activations.h) for B*N tokens. */
static int ensure_activations(ws_model *m, int B, int N, int g2) {
    const ws_arch *a = &m->arch;
    ws_backend *be = m->be;
    size_t bytes[ACT_COUNT];
    activations_bytes(a, m->tp.NHl, m->tp.Hl, B, N, g2, be->host_memory, m->adt, m->bdt, bytes);
    const size_t BN = (size_t)B * N;
    if (BN <= m->act_tokens && bytes[ACT_COLS] <= m->cols_bytes) return WS_OK;
    m->act_tokens = 0;
    m->cols_bytes = 0;
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
    const ws_dtype wdt = w->wdt, adt = m->adt, bdt = m->bdt;
    const int rbf16 = wdt == WS_DTYPE_BF16;
    const float eps = a->norm_eps;
    int rc = ensure_activations(m, B, N, g2);
    if (rc) return rc;
    const float *pos = model_posembed(m, R);
    if (!pos) return WS_ERR_NOMEM;

    /* patch embedding: a stride-P convolution as im2col + GEMM; then CLS, registers, positions */
    if (be->host_memory) {
        OP(op->im2col(be, m->cols, adt, pixels, B, R, P));
    } else {
        op->upload(be, m->pix, pixels, (size_t)B * 3 * R * R * sizeof(float));
        OP(op->im2col(be, m->cols, adt, m->pix, B, R, P));
    }
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
        const ws_epilogue fc1_epi = a->ffn == WS_FFN_SWIGLU ? WS_EPILOGUE_NONE : WS_EPILOGUE_GELU;
        OP(op->matmul(be, m->ffn, adt, m->xn, adt, (const char *)w->fc1_w + fc1_w * el, wdt,
                      w->fc1_b ? w->fc1_b + (size_t)l * F * Hl : NULL, fc1_epi, M, F * Hl, C));
        void *hid = m->ffn;
        if (a->ffn == WS_FFN_SWIGLU) {
            OP(op->swiglu(be, m->hid, m->ffn, adt, M, Hl));
            hid = m->hid;
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

    /* outputs: the features are in x */
    for (int b = 0; b < B; b++) {
        const float *tok = m->x + (size_t)b * N * C;
        op->download(be, out->cls + (size_t)b * C, tok, (size_t)C * sizeof(float));
        if (out->patch)
            op->download(be, out->patch + (size_t)b * g2 * C, tok + (size_t)(1 + NR) * C,
                         (size_t)g2 * C * sizeof(float));
    }
    if (out->patch_mean) {
        OP(op->token_mean(be, m->feat, m->x, B, N, 1 + NR, C));
        op->download(be, out->patch_mean, m->feat, (size_t)B * C * sizeof(float));
    }
    op->sync(be);
    return WS_OK;
}
