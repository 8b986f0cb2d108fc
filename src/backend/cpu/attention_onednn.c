/* CPU attention core on the oneDNN bf16 path (built when oneDNN is found; gemm_path.c turns it on
 * with the oneDNN bf16 GEMM): the attention of cpu_attention with q, k, v and the probabilities
 * rounded to bf16, but both products through oneDNN's bf16 matmul (f32 accumulation), as the
 * projections run, instead of OpenBLAS sgemm on widened copies.
 * In groups of (image, head) pairs whose f32 scores take at most GROUP_BYTES: several whole images
 * per group where one image's scores fit (one parallel region per product and per softmax for the
 * group, not per head), else the heads of one image in groups:
 *   S[g] = q[g] k[g]^T        batched bf16 matmul, q and k read in place from the packed qkv rows
 *                             (strided memory descriptors: leading dimension 3*NH*hs), S in f32
 *   P = softmax(S / sqrt(hs)) f32, one row per iteration of an OpenMP loop, stored as bf16
 *   out[g] = P[g] v[g]        batched bf16 matmul written into the heads' columns of `out`, in
 *                             its dtype (a bf16 `out` is rounded once, by oneDNN)
 * f32 qkv is rounded to bf16 once, into scratch; bf16 qkv is read as it is. Primitives are cached
 * per shape (images and heads per group, N, hs, leading dimensions, output dtype); they run on the
 * backend's one oneDNN engine and stream (cpu_onednn_engine). */
#include "backend/cpu/cpu.h"
#include "backend/cpu/onednn_check.h"
#include "backend/cpu/vector_math.h"
#include "common/error.h"

#include <oneapi/dnnl/dnnl.h>
#include <stdlib.h>

/* Most bytes of f32 scores per group (dino300m at 224 px: 3 images of 16 heads, 13 MiB). */
#define GROUP_BYTES ((size_t)16 << 20)

typedef struct {
    int I, G, N, hs, ld, ldo, obf16;   /* I images of G heads */
    dnnl_primitive_t qk, pv;
} attn_prim;

struct cpu_onednn_attention {
    dnnl_engine_t eng;        /* the backend's (cpu_onednn_engine) */
    dnnl_stream_t stream;
    attn_prim *prims;
    size_t nprims;
};


/* A 4-D [I, G, rows, cols] memory descriptor (I images of G heads) with strides {is, hs, rs, cs}. */
static int md_4d(dnnl_memory_desc_t *md, int I, int G, int rows, int cols, dnnl_data_type_t dt,
                 dnnl_dim_t is, dnnl_dim_t hs, dnnl_dim_t rs, dnnl_dim_t cs) {
    dnnl_dims_t dims = {I, G, rows, cols}, strides = {is, hs, rs, cs};
    int rc = WS_OK;
    DNNL_TRY(rc, dnnl_memory_desc_init_by_strides(md, 4, dims, dt, strides));
    return rc;
}

static int make_matmul(struct cpu_onednn_attention *d, const dnnl_memory_desc_t *src,
                       const dnnl_memory_desc_t *wei, const dnnl_memory_desc_t *dst, dnnl_primitive_t *out) {
    dnnl_matmul_desc_t desc;
    dnnl_primitive_desc_t pd = NULL;
    int rc = WS_OK;
    DNNL_TRY(rc, dnnl_matmul_desc_init(&desc, src, wei, NULL, dst));
    DNNL_TRY(rc, dnnl_primitive_desc_create(&pd, &desc, NULL, d->eng, NULL));
    DNNL_TRY(rc, dnnl_primitive_create(out, pd));
    if (pd) dnnl_release(dnnl_primitive_desc_destroy(pd), "a primitive descriptor");
    return rc;
}

/* The two matmuls of a group of I images of G heads (q k^T and P v), made at their first use. */
static int get_prims(struct cpu_onednn_attention *d, int I, int G, int N, int hs, int ld, int ldo,
                     int obf16, const attn_prim **out) {
    for (size_t i = 0; i < d->nprims; i++) {
        const attn_prim *p = &d->prims[i];
        if (p->I == I && p->G == G && p->N == N && p->hs == hs && p->ld == ld && p->ldo == ldo && p->obf16 == obf16) {
            *out = p;
            return WS_OK;
        }
    }
    attn_prim *grown = realloc(d->prims, (d->nprims + 1) * sizeof *grown);
    if (!grown) return ws_errorf(WS_ERR_NOMEM, "cpu attention (oneDNN): out of memory for the primitive cache");
    d->prims = grown;
    attn_prim p = {.I = I, .G = G, .N = N, .hs = hs, .ld = ld, .ldo = ldo, .obf16 = obf16};
    dnnl_memory_desc_t q, kt, s, pr, v, o;
    const dnnl_dim_t NN = (dnnl_dim_t)N * N, GNN = G * NN, in_img = (dnnl_dim_t)N * ld;
    const dnnl_dim_t out_img = (dnnl_dim_t)N * ldo;
    int rc = md_4d(&q, I, G, N, hs, dnnl_bf16, in_img, hs, ld, 1);
    if (rc == WS_OK) rc = md_4d(&kt, I, G, hs, N, dnnl_bf16, in_img, hs, 1, ld);
    if (rc == WS_OK) rc = md_4d(&s, I, G, N, N, dnnl_f32, GNN, NN, N, 1);
    if (rc == WS_OK) rc = md_4d(&pr, I, G, N, N, dnnl_bf16, GNN, NN, N, 1);
    if (rc == WS_OK) rc = md_4d(&v, I, G, N, hs, dnnl_bf16, in_img, hs, ld, 1);
    if (rc == WS_OK) rc = md_4d(&o, I, G, N, hs, obf16 ? dnnl_bf16 : dnnl_f32, out_img, hs, ldo, 1);
    if (rc == WS_OK) rc = make_matmul(d, &q, &kt, &s, &p.qk);
    if (rc == WS_OK) rc = make_matmul(d, &pr, &v, &o, &p.pv);
    if (rc != WS_OK) {
        if (p.qk) dnnl_release(dnnl_primitive_destroy(p.qk), "a primitive");
        return ws_error_context(rc, "%d images of %d heads of size %d, N=%d", I, G, hs, N);
    }
    d->prims[d->nprims] = p;
    *out = &d->prims[d->nprims++];
    return WS_OK;
}

static int state(ws_backend *be, struct cpu_onednn_attention **out) {
    cpu_state *st = be->impl;
    int rc = WS_OK;
    if (!st->onednn_attention) {
        struct cpu_onednn_attention *d = calloc(1, sizeof *d);
        if (!d) return ws_errorf(WS_ERR_NOMEM, "cpu attention (oneDNN): out of memory for its state");
        if ((rc = cpu_onednn_engine(be, &d->eng, &d->stream)) != WS_OK) {
            free(d);
            return rc;
        }
        st->onednn_attention = d;
    }
    *out = st->onednn_attention;
    return rc;
}

/* Runs primitive p on (src, weights, dst) given as pointers into the descriptors p was made for. */
static int exec(struct cpu_onednn_attention *d, dnnl_primitive_t p, const void *src, const void *wei, void *dst) {
    const_dnnl_primitive_desc_t pd;
    int rc = WS_OK;
    DNNL_TRY(rc, dnnl_primitive_get_primitive_desc(p, &pd));
    if (rc != WS_OK) return rc;
    const int which[3] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST};
    const dnnl_query_t q[3] = {dnnl_query_src_md, dnnl_query_weights_md, dnnl_query_dst_md};
    void *ptr[3] = {(void *)src, (void *)wei, dst};
    dnnl_memory_t mem[3] = {NULL, NULL, NULL};
    dnnl_exec_arg_t args[3];
    for (int i = 0; i < 3; i++) {
        DNNL_TRY(rc, dnnl_memory_create(&mem[i], dnnl_primitive_desc_query_md(pd, q[i], 0), d->eng, ptr[i]));
        args[i] = (dnnl_exec_arg_t){which[i], mem[i]};
    }
    DNNL_TRY(rc, dnnl_primitive_execute(p, d->stream, 3, args));
    DNNL_TRY(rc, dnnl_stream_wait(d->stream));
    for (int i = 0; i < 3; i++)
        if (mem[i]) dnnl_release(dnnl_memory_destroy(mem[i]), "a memory object");
    return rc;
}

/* P = softmax(S * scale) per row of N, f32 (the exponentials kept in S), stored as bf16. */
CPU_HOT static void softmax_bf16(uint16_t *P, float *S, size_t rows, int N, float scale) {
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < rows; i++) {
        float *sr = S + i * N;
        uint16_t *pr = P + i * N;
        float mx = -INFINITY;
        #pragma omp simd reduction(max : mx)
        for (int j = 0; j < N; j++) mx = sr[j] > mx ? sr[j] : mx;
        const float inv = 1.0f / ws_exp_sum(sr, N, scale, mx * scale);
        #pragma omp simd
        for (int j = 0; j < N; j++) pr[j] = ws_f32_to_bf16(sr[j] * inv);
    }
}

int cpu_attention_onednn(ws_backend *be, void *out, const void *qkv, ws_dtype dt, int B, int N, int NH,
                         int hs) {
    struct cpu_onednn_attention *d = NULL;
    int rc = state(be, &d);
    if (rc != WS_OK) return rc;
    const size_t Cl = (size_t)NH * hs, ld = 3 * Cl, BN = (size_t)B * N, NN = (size_t)N * N;
    /* G heads per group, of I images (I > 1 only with every head: G = NH) */
    size_t G = GROUP_BYTES / (NN * sizeof(float)), I = 1;
    if (G >= (size_t)NH) {
        I = G / NH;
        I = I > (size_t)B ? (size_t)B : I;
        G = NH;
    }
    G = G < 1 ? 1 : G;
    const size_t in_elems = dt == WS_DTYPE_BF16 ? 0 : BN * ld;
    const size_t GNN = I * G * NN, bytes = in_elems * sizeof(uint16_t) + GNN * (sizeof(float) + sizeof(uint16_t));
    char *scratch = (char *)cpu_scratch(be, bytes);
    if (!scratch)
        return ws_errorf(WS_ERR_NOMEM, "cpu attention (oneDNN, B=%d N=%d NH=%d hs=%d %s): cannot allocate "
                         "%zu bytes of scratch", B, N, NH, hs, ws_dtype_name(dt), bytes);
    float *S = (float *)scratch;
    uint16_t *P = (uint16_t *)(S + GNN), *x = (uint16_t *)qkv;
    if (in_elems) {
        x = P + GNN;
        #pragma omp parallel
        cpu_to_bf16(x, qkv, in_elems);
    }
    const int obf16 = dt == WS_DTYPE_BF16;
    const size_t osize = obf16 ? sizeof(uint16_t) : sizeof(float);
    const float scale = 1.0f / sqrtf((float)hs);
    for (size_t b = 0; b < (size_t)B && rc == WS_OK; b += I)
        for (size_t h0 = 0; h0 < (size_t)NH && rc == WS_OK; h0 += G) {
            const int i = (int)((size_t)B - b < I ? (size_t)B - b : I);
            const int g = (int)((size_t)NH - h0 < G ? (size_t)NH - h0 : G);
            const attn_prim *p;
            if ((rc = get_prims(d, i, g, N, hs, (int)ld, (int)Cl, obf16, &p)) != WS_OK) break;
            const uint16_t *q = x + b * N * ld + h0 * hs, *k = q + Cl, *v = k + Cl;
            if ((rc = exec(d, p->qk, q, k, S)) != WS_OK) break;
            softmax_bf16(P, S, (size_t)i * g * N, N, scale);
            rc = exec(d, p->pv, P, v, (char *)out + (b * N * Cl + h0 * hs) * osize);
        }
    return rc;
}

void cpu_attention_onednn_free(ws_backend *be) {
    cpu_state *st = be->impl;
    struct cpu_onednn_attention *d = st->onednn_attention;
    if (!d) return;
    for (size_t i = 0; i < d->nprims; i++) {
        dnnl_release(dnnl_primitive_destroy(d->prims[i].qk), "a primitive");
        dnnl_release(dnnl_primitive_destroy(d->prims[i].pv), "a primitive");
    }
    free(d->prims);
    free(d);
    st->onednn_attention = NULL;
}
