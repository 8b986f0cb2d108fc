/* A host twin of the cuBLASLt functions the CUDA backend calls (src/backend/cuda/gemm_cublaslt.c),
 * from cuBLASLt's documented semantics: handle, matmul descriptor (compute and scale type, TRANSA,
 * TRANSB, EPILOGUE, BIAS_POINTER, BIAS_DATA_TYPE), column-major matrix layouts (type, rows, cols,
 * ld), preferences, a heuristic that offers one algorithm, and cublasLtMatmul on the descriptor's
 * stream (emu_cudart.cpp: at once, or recorded with the descriptor's values of the call when the
 * stream is captured):
 *   D = alpha op(A) op(B) + beta C, products accumulated in f32, then the epilogue: BIAS adds
 *   bias[i] to row i of D (one value per row of D), GELU applies the tanh form
 *   0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), GELU_BIAS the bias and then GELU; the result
 *   is stored in D's type (bf16 rounded to nearest even).
 * Supported, as in cuBLASLt's table for CUBLAS_COMPUTE_32F with scale type CUDA_R_32F: A and B both
 * CUDA_R_32F with C and D CUDA_R_32F, or A and B both CUDA_R_16BF with C and D CUDA_R_16BF or
 * CUDA_R_32F; C of D's type and layout. The bias vector has D's type (CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE,
 * default: D's type). Other combinations and epilogues fail with CUBLAS_STATUS_NOT_SUPPORTED,
 * dimensions that do not chain, a leading dimension below the rows, a missing bias pointer or
 * pointers outside device memory with CUBLAS_STATUS_INVALID_VALUE, so a wrong descriptor fails.
 * "cublasLtMatmul" failures can be injected (emu_control.h). */
#include "cuda_emu.h"

#include <cublasLt.h>
#include <math.h>
#include <stdio.h>

#include <vector>

struct cublasLtContext {
    int unused;
};

namespace {

const uint64_t ALGO_TAG = 0xe11a1901;

struct desc {
    cublasComputeType_t compute;
    cudaDataType_t scale;
    int32_t transa = CUBLAS_OP_N, transb = CUBLAS_OP_N;
    uint32_t epilogue = CUBLASLT_EPILOGUE_DEFAULT;
    const void *bias = nullptr;
    int32_t bias_type = -1;   /* -1: D's type */
};

struct layout {
    cudaDataType_t type;
    uint64_t rows, cols;
    int64_t ld;
};

struct pref {
    uint64_t workspace = 0;
};

/* The opaque cuBLASLt handles point at these. */
desc *D_(cublasLtMatmulDesc_t d) { return reinterpret_cast<desc *>(d); }
layout *L_(cublasLtMatrixLayout_t l) { return reinterpret_cast<layout *>(l); }

size_t type_size(cudaDataType_t t) { return t == CUDA_R_16BF ? 2 : 4; }

float load(const void *p, cudaDataType_t t, size_t i) {
    return t == CUDA_R_16BF ? __bfloat162float(static_cast<const __nv_bfloat16 *>(p)[i])
                            : static_cast<const float *>(p)[i];
}

void store(void *p, cudaDataType_t t, size_t i, float v) {
    if (t == CUDA_R_16BF) static_cast<__nv_bfloat16 *>(p)[i] = __float2bfloat16_rn(v);
    else static_cast<float *>(p)[i] = v;
}

/* Element (r, c) of op(X) for column-major X of layout l. */
float element(const void *x, const layout &l, int32_t op, uint64_t r, uint64_t c) {
    return op == CUBLAS_OP_N ? load(x, l.type, r + c * (uint64_t)l.ld) : load(x, l.type, c + r * (uint64_t)l.ld);
}

/* The checks common to the heuristic and the product: m, n, k of the product when the descriptor and
 * layouts form one that is supported. */
cublasStatus_t check(const desc &d, const layout &a, const layout &b, const layout &c, const layout &dl, uint64_t *m,
                     uint64_t *n, uint64_t *k) {
    if (d.compute != CUBLAS_COMPUTE_32F || d.scale != CUDA_R_32F) return CUBLAS_STATUS_NOT_SUPPORTED;
    const bool f32 = a.type == CUDA_R_32F && b.type == CUDA_R_32F && dl.type == CUDA_R_32F;
    const bool bf16 =
        a.type == CUDA_R_16BF && b.type == CUDA_R_16BF && (dl.type == CUDA_R_16BF || dl.type == CUDA_R_32F);
    if (!(f32 || bf16) || c.type != dl.type) return CUBLAS_STATUS_NOT_SUPPORTED;
    const uint32_t e = d.epilogue;
    if (e != CUBLASLT_EPILOGUE_DEFAULT && e != CUBLASLT_EPILOGUE_BIAS && e != CUBLASLT_EPILOGUE_GELU &&
        e != CUBLASLT_EPILOGUE_GELU_BIAS)
        return CUBLAS_STATUS_NOT_SUPPORTED;
    if ((e & CUBLASLT_EPILOGUE_BIAS) && d.bias_type != -1 && d.bias_type != (int32_t)dl.type) {
        fprintf(stderr, "emu: cuBLASLt: bias type %d, but D has type %d: not supported\n", d.bias_type, (int)dl.type);
        return CUBLAS_STATUS_NOT_SUPPORTED;
    }
    if ((d.transa != CUBLAS_OP_N && d.transa != CUBLAS_OP_T) || (d.transb != CUBLAS_OP_N && d.transb != CUBLAS_OP_T))
        return CUBLAS_STATUS_NOT_SUPPORTED;
    *m = d.transa == CUBLAS_OP_N ? a.rows : a.cols;
    *k = d.transa == CUBLAS_OP_N ? a.cols : a.rows;
    const uint64_t kb = d.transb == CUBLAS_OP_N ? b.rows : b.cols;
    *n = d.transb == CUBLAS_OP_N ? b.cols : b.rows;
    if (kb != *k || dl.rows != *m || dl.cols != *n || c.rows != *m || c.cols != *n) {
        fprintf(stderr, "emu: cuBLASLt: op(A) %llux%llu, op(B) %llux%llu, D %llux%llu do not chain\n",
                (unsigned long long)*m, (unsigned long long)*k, (unsigned long long)kb, (unsigned long long)*n,
                (unsigned long long)dl.rows, (unsigned long long)dl.cols);
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    return CUBLAS_STATUS_SUCCESS;
}

size_t extent(const layout &l) { return ((l.cols - 1) * (uint64_t)l.ld + l.rows) * type_size(l.type); }

float gelu_tanh(float x) { return 0.5f * x * (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x))); }

}  // namespace

extern "C" {

cublasStatus_t cublasLtCreate(cublasLtHandle_t *h) {
    *h = new cublasLtContext();
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtDestroy(cublasLtHandle_t h) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    delete h;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t *d, cublasComputeType_t compute, cudaDataType_t scale) {
    desc *p = new desc();
    p->compute = compute;
    p->scale = scale;
    *d = reinterpret_cast<cublasLtMatmulDesc_t>(p);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t d) {
    delete D_(d);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t attr,
                                              const void *buf, size_t size) {
    desc *p = D_(d);
    switch (attr) {
#define EMU_ATTR(name, field)                                         \
    case name:                                                        \
        if (size != sizeof p->field) return CUBLAS_STATUS_INVALID_VALUE; \
        memcpy(&p->field, buf, size);                                 \
        return CUBLAS_STATUS_SUCCESS;
        EMU_ATTR(CUBLASLT_MATMUL_DESC_TRANSA, transa)
        EMU_ATTR(CUBLASLT_MATMUL_DESC_TRANSB, transb)
        EMU_ATTR(CUBLASLT_MATMUL_DESC_EPILOGUE, epilogue)
        EMU_ATTR(CUBLASLT_MATMUL_DESC_BIAS_POINTER, bias)
        EMU_ATTR(CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, bias_type)
#undef EMU_ATTR
    default: return CUBLAS_STATUS_NOT_SUPPORTED;
    }
}

cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t *l, cudaDataType type, uint64_t rows, uint64_t cols,
                                          int64_t ld) {
    if (ld < (int64_t)rows || rows == 0 || cols == 0) return CUBLAS_STATUS_INVALID_VALUE;
    *l = reinterpret_cast<cublasLtMatrixLayout_t>(new layout{type, rows, cols, ld});
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t l) {
    delete L_(l);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t *p) {
    *p = reinterpret_cast<cublasLtMatmulPreference_t>(new pref());
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t p) {
    delete reinterpret_cast<pref *>(p);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t p,
                                                    cublasLtMatmulPreferenceAttributes_t attr, const void *buf,
                                                    size_t size) {
    if (attr == CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES) {
        if (size != sizeof(uint64_t)) return CUBLAS_STATUS_INVALID_VALUE;
        memcpy(&reinterpret_cast<pref *>(p)->workspace, buf, size);
        return CUBLAS_STATUS_SUCCESS;
    }
    if (attr == CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES || attr == CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES ||
        attr == CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES || attr == CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES)
        return size == sizeof(uint32_t) ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_INVALID_VALUE;
    return CUBLAS_STATUS_NOT_SUPPORTED;
}

cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t h, cublasLtMatmulDesc_t d, cublasLtMatrixLayout_t a,
                                              cublasLtMatrixLayout_t b, cublasLtMatrixLayout_t c,
                                              cublasLtMatrixLayout_t dl, cublasLtMatmulPreference_t p, int requested,
                                              cublasLtMatmulHeuristicResult_t results[], int *found) {
    *found = 0;
    if (!h || requested < 1) return CUBLAS_STATUS_INVALID_VALUE;
    uint64_t m, n, k;
    const cublasStatus_t st = check(*D_(d), *L_(a), *L_(b), *L_(c), *L_(dl), &m, &n, &k);
    if (st != CUBLAS_STATUS_SUCCESS) return st;
    memset(&results[0], 0, sizeof results[0]);
    results[0].algo.data[0] = ALGO_TAG;
    results[0].workspaceSize = 0;
    results[0].state = CUBLAS_STATUS_SUCCESS;
    results[0].wavesCount = 1.0f;
    *found = 1;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmul(cublasLtHandle_t h, cublasLtMatmulDesc_t dd, const void *alpha, const void *A,
                              cublasLtMatrixLayout_t ad, const void *B, cublasLtMatrixLayout_t bd, const void *beta,
                              const void *C, cublasLtMatrixLayout_t cd, void *D, cublasLtMatrixLayout_t ddl,
                              const cublasLtMatmulAlgo_t *algo, void *workspace, size_t workspace_bytes,
                              cudaStream_t stream) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    /* The descriptors' values of this call (a captured call replays with them). */
    const desc d = *D_(dd);
    const layout a = *L_(ad), b = *L_(bd), c = *L_(cd), dl = *L_(ddl);
    uint64_t m, n, k;
    cublasStatus_t st = check(d, a, b, c, dl, &m, &n, &k);
    if (st != CUBLAS_STATUS_SUCCESS) return st;
    if (algo && algo->data[0] != ALGO_TAG) return CUBLAS_STATUS_INVALID_VALUE;
    const bool has_bias = d.epilogue & CUBLASLT_EPILOGUE_BIAS;
    if (!emu_is_device(A, extent(a)) || !emu_is_device(B, extent(b)) || !emu_is_device(C, extent(c)) ||
        !emu_is_device(D, extent(dl)) || (has_bias && !emu_is_device(d.bias, m * type_size(dl.type)))) {
        fprintf(stderr, "emu: cublasLtMatmul: A, B, C, D or the bias is not in device memory (or too small)\n");
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    if (emu_injected("cublasLtMatmul")) return CUBLAS_STATUS_EXECUTION_FAILED;
    const float al = *static_cast<const float *>(alpha), be = *static_cast<const float *>(beta);
    const cudaError_t e = emu_stream_enqueue(stream, [=]() {
        std::vector<float> col(m);
        for (uint64_t j = 0; j < n; j++) {
            for (uint64_t i = 0; i < m; i++) {
                float s = 0.0f;
                for (uint64_t p = 0; p < k; p++) s += element(A, a, d.transa, i, p) * element(B, b, d.transb, p, j);
                col[i] = al * s + (be != 0.0f ? be * load(C, c.type, i + j * (uint64_t)c.ld) : 0.0f);
            }
            for (uint64_t i = 0; i < m; i++) {
                float v = col[i];
                if (has_bias) v += load(d.bias, dl.type, i);
                if (d.epilogue & CUBLASLT_EPILOGUE_GELU) v = gelu_tanh(v);
                store(D, dl.type, i + j * (uint64_t)dl.ld, v);
            }
        }
        return cudaSuccess;
    });
    return e == cudaSuccess ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_EXECUTION_FAILED;
}

const char *cublasGetStatusString(cublasStatus_t st) {
    switch (st) {
    case CUBLAS_STATUS_SUCCESS: return "the operation completed successfully";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "the library was not initialized";
    case CUBLAS_STATUS_INVALID_VALUE: return "an invalid numeric value was used as an argument";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "the GPU program failed to execute";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "the functionality requested is not supported";
    default: return "unknown cuBLAS status";
    }
}
}
