/* cuBLASLt GEMMs for the CUDA backend (see cuda_gemm.h). cuBLASLt is column-major: the row-major
 * product out[M,N] = in[M,K] . w[N,K]^T is computed as the column-major D[N,M] = op(A) . B with
 * A = w seen as a K x N column-major matrix (transposed by the op) and B = in seen as K x M;
 * the epilogue bias has one value per row of D, i.e. per output feature. */
#include "backend/cuda/cuda_gemm.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_kernels.h"

#include <stdlib.h>

enum { GEMM_PLANS = 64, GEMM_BIAS_MAX = 1 << 16 };
static const size_t GEMM_WORKSPACE = (size_t)32 << 20;   /* what cuBLAS suggests for Hopper */

/* What a plan is chosen for. */
typedef struct {
    int M, N, K;
    ws_dtype wdt, odt;
    cublasLtEpilogue_t epi;
    uint32_t align;     /* min alignment (bytes) of the w, in, out and bias pointers the plan assumes */
} gemm_key;

typedef struct {
    gemm_key key;
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t a, b, d;
    cublasLtMatmulAlgo_t algo;
} gemm_plan;

struct cuda_gemm {
    cublasLtHandle_t lt;
    void *workspace;         /* GEMM_WORKSPACE bytes for cuBLASLt, then bias_bf16 */
    uint16_t *bias_bf16;     /* [GEMM_BIAS_MAX]: the bias of the running GEMM rounded to bf16 */
    gemm_plan plans[GEMM_PLANS];
    int nplans, next_evict;
};

int cuda_gemm_create(cuda_gemm **out) {
    *out = NULL;
    cuda_gemm *g = calloc(1, sizeof *g);
    if (!g) return ws_errorf(WS_ERR_NOMEM, "cuda gemm: out of host memory");
    cublasStatus_t st = cublasLtCreate(&g->lt);
    if (st != CUBLAS_STATUS_SUCCESS) {
        free(g);
        return ws_errorf(WS_ERR_DEVICE, "cublasLtCreate failed: %s", cublasGetStatusString(st));
    }
    cudaError_t ce = cudaMalloc(&g->workspace, GEMM_WORKSPACE + GEMM_BIAS_MAX * sizeof(uint16_t));
    if (ce != cudaSuccess) {
        cublasLtDestroy(g->lt);
        free(g);
        return ws_errorf(WS_ERR_DEVICE, "cudaMalloc of the %zu MiB cuBLASLt workspace failed: %s",
                         GEMM_WORKSPACE >> 20, cudaGetErrorString(ce));
    }
    g->bias_bf16 = (uint16_t *)((char *)g->workspace + GEMM_WORKSPACE);
    *out = g;
    return WS_OK;
}

/* Destroys what a plan holds; parts never created are NULL. */
static void plan_release(gemm_plan *p) {
    if (p->a) cublasLtMatrixLayoutDestroy(p->a);
    if (p->b) cublasLtMatrixLayoutDestroy(p->b);
    if (p->d) cublasLtMatrixLayoutDestroy(p->d);
    if (p->desc) cublasLtMatmulDescDestroy(p->desc);
}

void cuda_gemm_free(cuda_gemm *g) {
    if (!g) return;
    for (int i = 0; i < g->nplans; i++) plan_release(&g->plans[i]);
    CUDA_CHECK(cudaFree(g->workspace));
    CUBLAS_CHECK(cublasLtDestroy(g->lt));
    free(g);
}

/* Largest power of two (at most 256, cuBLASLt's default assumption) dividing the address. */
static uint32_t pointer_alignment(const void *p) {
    uint32_t a = 256;
    while (a > 1 && ((uintptr_t)p % a) != 0) a /= 2;
    return a;
}

static const char *epilogue_name(cublasLtEpilogue_t e) {
    switch (e) {
    case CUBLASLT_EPILOGUE_BIAS: return "bias";
    case CUBLASLT_EPILOGUE_GELU: return "gelu";
    case CUBLASLT_EPILOGUE_GELU_BIAS: return "gelu+bias";
    default: return "none";
    }
}

/* The error for a GEMM of key k: "cuBLASLt bf16 GEMM M=.. N=.. K=.. -> bf16, epilogue gelu+bias: ...". */
#define GEMM_ERROR(k, fmt, ...) \
    ws_errorf(WS_ERR_DEVICE, "cuBLASLt %s GEMM M=%d N=%d K=%d -> %s, epilogue %s: " fmt, ws_dtype_name((k)->wdt), \
              (k)->M, (k)->N, (k)->K, ws_dtype_name((k)->odt), epilogue_name((k)->epi), __VA_ARGS__)

/* Runs a cuBLASLt call of plan_make; on failure jumps to its cleanup with the call named. */
#define LT_TRY(call) \
    do { st = (call); if (st != CUBLAS_STATUS_SUCCESS) { what = #call; goto fail; } } while (0)

static cudaDataType_t cuda_type(ws_dtype dt) { return dt == WS_DTYPE_BF16 ? CUDA_R_16BF : CUDA_R_32F; }

/* Descriptors for key k and the heuristic's best algorithm, into *p. The bias (of D's dtype, as
 * cuBLASLt wants it) is set before the heuristic query, which reads its alignment. */
static int plan_make(cuda_gemm *g, gemm_plan *p, const gemm_key *k, const void *bias) {
    const cublasOperation_t opT = CUBLAS_OP_T, opN = CUBLAS_OP_N;
    const cudaDataType_t bias_type = cuda_type(k->odt);
    const uint64_t M = (uint64_t)k->M, N = (uint64_t)k->N, K = (uint64_t)k->K;
    cublasLtMatmulPreference_t pref = NULL;
    cublasStatus_t st = CUBLAS_STATUS_SUCCESS;
    const char *what = "";
    *p = (gemm_plan){.key = *k};
    LT_TRY(cublasLtMatmulDescCreate(&p->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    LT_TRY(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSA, &opT, sizeof opT));
    LT_TRY(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSB, &opN, sizeof opN));
    LT_TRY(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &k->epi, sizeof k->epi));
    if (bias) {
        LT_TRY(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type,
                                              sizeof bias_type));
        LT_TRY(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
    }
    LT_TRY(cublasLtMatrixLayoutCreate(&p->a, cuda_type(k->wdt), K, N, (int64_t)K));
    LT_TRY(cublasLtMatrixLayoutCreate(&p->b, cuda_type(k->wdt), K, M, (int64_t)K));
    LT_TRY(cublasLtMatrixLayoutCreate(&p->d, cuda_type(k->odt), N, M, (int64_t)N));

    LT_TRY(cublasLtMatmulPreferenceCreate(&pref));
    LT_TRY(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &GEMM_WORKSPACE,
                                                sizeof GEMM_WORKSPACE));
    const cublasLtMatmulPreferenceAttributes_t align_attrs[] = {
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES};
    for (size_t i = 0; i < sizeof align_attrs / sizeof align_attrs[0]; i++)
        LT_TRY(cublasLtMatmulPreferenceSetAttribute(pref, align_attrs[i], &k->align, sizeof k->align));
    cublasLtMatmulHeuristicResult_t res;
    int found = 0;
    LT_TRY(cublasLtMatmulAlgoGetHeuristic(g->lt, p->desc, p->a, p->b, p->d, p->d, pref, 1, &res, &found));
    cublasLtMatmulPreferenceDestroy(pref);
    if (found < 1) {
        plan_release(p);
        return GEMM_ERROR(k, "no algorithm (pointer alignment %u bytes)", (unsigned)k->align);
    }
    p->algo = res.algo;
    return WS_OK;
fail:
    if (pref) cublasLtMatmulPreferenceDestroy(pref);
    plan_release(p);
    return GEMM_ERROR(k, "%s failed: %s", what, cublasGetStatusString(st));
}

static int key_eq(const gemm_key *a, const gemm_key *b) {
    return a->M == b->M && a->N == b->N && a->K == b->K && a->wdt == b->wdt && a->odt == b->odt &&
           a->epi == b->epi && a->align == b->align;
}

/* The cached plan for k, made on first use. */
static int plan_get(cuda_gemm *g, const gemm_key *k, const void *bias, gemm_plan **out) {
    for (int i = 0; i < g->nplans; i++)
        if (key_eq(&g->plans[i].key, k)) {
            *out = &g->plans[i];
            return WS_OK;
        }
    gemm_plan made;
    int rc = plan_make(g, &made, k, bias);
    if (rc != WS_OK) return rc;
    gemm_plan *slot;
    if (g->nplans < GEMM_PLANS) {
        slot = &g->plans[g->nplans++];
    } else {   /* more shapes than slots (many resolutions in one run): replace round-robin */
        slot = &g->plans[g->next_evict];
        g->next_evict = (g->next_evict + 1) % GEMM_PLANS;
        plan_release(slot);
    }
    *slot = made;
    *out = slot;
    return WS_OK;
}

int cuda_gemm_run(cuda_gemm *g, void *out, ws_dtype odt, const void *in, const void *w, ws_dtype wdt,
                  const float *bias, ws_epilogue epi, int M, int N, int K, cudaStream_t stream) {
    if ((wdt != WS_DTYPE_BF16 && wdt != WS_DTYPE_F32) || (odt != WS_DTYPE_BF16 && odt != WS_DTYPE_F32))
        return ws_errorf(WS_ERR_ARG, "cuda gemm M=%d N=%d K=%d: weights %s -> %s not supported (fp32 or bf16)", M, N,
                         K, ws_dtype_name(wdt), ws_dtype_name(odt));
    if (epi == WS_EPILOGUE_SWIGLU)   /* cuda_fuses_swiglu says 0: the model never asks */
        return ws_errorf(WS_ERR_UNSUPPORTED, "cuda gemm M=%d N=%d K=%d: no SwiGLU epilogue (the swiglu op runs "
                         "apart)", M, N, K);
    if (M <= 0 || N <= 0) return WS_OK;
    /* GELU after the GEMM with f32 out (the exact form), in the epilogue with bf16 out. */
    const int gelu_after = epi == WS_EPILOGUE_GELU && odt == WS_DTYPE_F32;
    const int gelu_in = epi == WS_EPILOGUE_GELU && !gelu_after;
    gemm_key k = {.M = M, .N = N, .K = K, .wdt = wdt, .odt = odt};
    k.epi = gelu_in ? (bias ? CUBLASLT_EPILOGUE_GELU_BIAS : CUBLASLT_EPILOGUE_GELU)
                    : (bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT);
    /* The epilogue's bias has D's dtype: with bf16 out, a bf16 copy (torch.autocast rounds it so). */
    const void *lt_bias = bias;
    if (bias && odt == WS_DTYPE_BF16) {
        if (N > GEMM_BIAS_MAX) return GEMM_ERROR(&k, "bias wider than %d", GEMM_BIAS_MAX);
        const cudaError_t ce = cuda_convert(g->bias_bf16, WS_DTYPE_BF16, bias, WS_DTYPE_F32, (size_t)N, stream);
        if (ce != cudaSuccess) return GEMM_ERROR(&k, "rounding the bias to bf16 failed: %s", cudaGetErrorString(ce));
        lt_bias = g->bias_bf16;
    }
    const void *ptrs[] = {w, in, out, lt_bias};
    k.align = 256;
    for (int i = 0; i < 4; i++) {
        const uint32_t a = ptrs[i] ? pointer_alignment(ptrs[i]) : 256;
        k.align = a < k.align ? a : k.align;
    }
    gemm_plan *p;
    int rc = plan_get(g, &k, lt_bias, &p);
    if (rc != WS_OK) return rc;
    cublasStatus_t st = CUBLAS_STATUS_SUCCESS;
    if (lt_bias)
        st = cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &lt_bias, sizeof lt_bias);
    const float one = 1.0f, zero = 0.0f;
    if (st == CUBLAS_STATUS_SUCCESS)
        st = cublasLtMatmul(g->lt, p->desc, &one, w, p->a, in, p->b, &zero, out, p->d, out, p->d, &p->algo,
                            g->workspace, GEMM_WORKSPACE, stream);
    if (st != CUBLAS_STATUS_SUCCESS) return GEMM_ERROR(&k, "cublasLtMatmul failed: %s", cublasGetStatusString(st));
    if (gelu_after) {
        const cudaError_t ce = cuda_gelu(out, WS_DTYPE_F32, (size_t)M * N, stream);
        if (ce != cudaSuccess) return GEMM_ERROR(&k, "the GELU kernel after it failed: %s", cudaGetErrorString(ce));
    }
    return WS_OK;
}
