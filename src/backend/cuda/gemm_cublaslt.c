/* cuBLASLt GEMMs for the CUDA backend (see cuda_gemm.h). cuBLASLt is column-major: the row-major
 * product out[M,N] = in[M,K] . w[N,K]^T is computed as the column-major D[N,M] = op(A) . B with
 * A = w seen as a K x N column-major matrix (transposed by the op) and B = in seen as K x M;
 * the epilogue bias has one value per row of D, i.e. per output feature. */
#include "backend/cuda/cuda_gemm.h"
#include "backend/cuda/cuda_check.h"

#include <stdlib.h>

enum { GEMM_PLANS = 64 };
static const size_t GEMM_WORKSPACE = (size_t)32 << 20;   /* what cuBLAS suggests for Hopper */

typedef struct {
    int M, N, K, has_bias;
    ws_dtype dt;
    uint32_t align;     /* min alignment (bytes) of the w, in and out pointers the plan assumes */
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t a, b, d;
    cublasLtMatmulAlgo_t algo;
} gemm_plan;

struct cuda_gemm {
    cublasLtHandle_t lt;
    void *workspace;
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
    cudaError_t ce = cudaMalloc(&g->workspace, GEMM_WORKSPACE);
    if (ce != cudaSuccess) {
        cublasLtDestroy(g->lt);
        free(g);
        return ws_errorf(WS_ERR_DEVICE, "cudaMalloc of the %zu MiB cuBLASLt workspace failed: %s",
                         GEMM_WORKSPACE >> 20, cudaGetErrorString(ce));
    }
    *out = g;
    return WS_OK;
}

static void plan_release(gemm_plan *p) {
    CUBLAS_CHECK(cublasLtMatrixLayoutDestroy(p->a));
    CUBLAS_CHECK(cublasLtMatrixLayoutDestroy(p->b));
    CUBLAS_CHECK(cublasLtMatrixLayoutDestroy(p->d));
    CUBLAS_CHECK(cublasLtMatmulDescDestroy(p->desc));
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

static void plan_make(cuda_gemm *g, gemm_plan *p, int M, int N, int K, ws_dtype dt, int has_bias,
                      uint32_t align) {
    const cudaDataType_t ab = dt == WS_DTYPE_BF16 ? CUDA_R_16BF : CUDA_R_32F;
    const cublasOperation_t opT = CUBLAS_OP_T, opN = CUBLAS_OP_N;
    *p = (gemm_plan){.M = M, .N = N, .K = K, .has_bias = has_bias, .dt = dt, .align = align};
    CUBLAS_CHECK(cublasLtMatmulDescCreate(&p->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSA, &opT, sizeof opT));
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSB, &opN, sizeof opN));
    if (has_bias) {
        const cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
        const cudaDataType_t bias_type = CUDA_R_32F;
        CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi));
        CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type,
                                                    sizeof bias_type));
    }
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p->a, ab, (uint64_t)K, (uint64_t)N, (int64_t)K));
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p->b, ab, (uint64_t)K, (uint64_t)M, (int64_t)K));
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p->d, CUDA_R_32F, (uint64_t)N, (uint64_t)M, (int64_t)N));

    cublasLtMatmulPreference_t pref;
    CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                      &GEMM_WORKSPACE, sizeof GEMM_WORKSPACE));
    const cublasLtMatmulPreferenceAttributes_t align_attrs[] = {
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES};
    for (size_t i = 0; i < sizeof align_attrs / sizeof align_attrs[0]; i++)
        CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, align_attrs[i], &align, sizeof align));
    cublasLtMatmulHeuristicResult_t res;
    int found = 0;
    CUBLAS_CHECK(cublasLtMatmulAlgoGetHeuristic(g->lt, p->desc, p->a, p->b, p->d, p->d, pref, 1, &res, &found));
    CUBLAS_CHECK(cublasLtMatmulPreferenceDestroy(pref));
    if (found < 1)
        ws_fatal(__FILE__, __LINE__, "cuBLASLt has no algorithm for %s GEMM M=%d N=%d K=%d%s",
                 ws_dtype_name(dt), M, N, K, has_bias ? " with bias" : "");
    p->algo = res.algo;
}

static const gemm_plan *plan_get(cuda_gemm *g, int M, int N, int K, ws_dtype dt, int has_bias,
                                 uint32_t align) {
    for (int i = 0; i < g->nplans; i++) {
        const gemm_plan *p = &g->plans[i];
        if (p->M == M && p->N == N && p->K == K && p->dt == dt && p->has_bias == has_bias &&
            p->align == align)
            return p;
    }
    gemm_plan *slot;
    if (g->nplans < GEMM_PLANS) {
        slot = &g->plans[g->nplans++];
    } else {   /* more shapes than slots (many resolutions in one run): replace round-robin */
        slot = &g->plans[g->next_evict];
        g->next_evict = (g->next_evict + 1) % GEMM_PLANS;
        plan_release(slot);
    }
    plan_make(g, slot, M, N, K, dt, has_bias, align);
    return slot;
}

void cuda_gemm_run(cuda_gemm *g, float *out, const void *in, const void *w, ws_dtype dt,
                   const float *bias, int M, int N, int K, cudaStream_t stream) {
    WS_ASSERT(dt == WS_DTYPE_BF16 || dt == WS_DTYPE_F32);
    if (M <= 0 || N <= 0) return;
    uint32_t align = pointer_alignment(w), a_in = pointer_alignment(in), a_out = pointer_alignment(out);
    align = a_in < align ? a_in : align;
    align = a_out < align ? a_out : align;
    const gemm_plan *p = plan_get(g, M, N, K, dt, bias != NULL, align);
    if (bias)
        CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias,
                                                    sizeof bias));
    const float one = 1.0f, zero = 0.0f;
    CUBLAS_CHECK(cublasLtMatmul(g->lt, p->desc, &one, w, p->a, in, p->b, &zero, out, p->d, out, p->d,
                                &p->algo, g->workspace, GEMM_WORKSPACE, stream));
}
