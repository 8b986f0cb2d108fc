/* GEMMs of the CUDA backend through cuBLASLt: out[M,N] (f32) = in[M,K] . w[N,K]^T (+ bias[N]),
 * row-major, PyTorch nn.Linear layout for w. Two element types for in and w:
 *   bf16: tensor cores, f32 accumulation and f32 output (torch.autocast numerics);
 *   f32:  CUBLAS_COMPUTE_32F, no TF32 (the f32 reference path).
 * The bias is added in the GEMM epilogue. Plans (descriptors and the heuristic's algorithm) are
 * cached per shape, so the hot loop makes no heuristic query after the first batch. */
#ifndef WEBSSL_BACKEND_CUDA_CUDA_GEMM_H
#define WEBSSL_BACKEND_CUDA_CUDA_GEMM_H

#include <cuda_runtime_api.h>

#include "common/dtype.h"

typedef struct cuda_gemm cuda_gemm;

/* cuBLASLt handle and a workspace on the current device. WS_OK or WS_ERR_DEVICE / NOMEM. */
int cuda_gemm_create(cuda_gemm **out);
void cuda_gemm_free(cuda_gemm *g);

/* Enqueue the product on `stream`; `in` and `w` have element type dt (WS_DTYPE_BF16 or
 * WS_DTYPE_F32); bias (f32, [N]) may be NULL. A cuBLAS failure is fatal (CUBLAS_CHECK). */
void cuda_gemm_run(cuda_gemm *g, float *out, const void *in, const void *w, ws_dtype dt,
                   const float *bias, int M, int N, int K, cudaStream_t stream);

#endif
