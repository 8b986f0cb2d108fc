/* GEMMs of the CUDA backend through cuBLASLt: out[M,N] = epi(in[M,K] . w[N,K]^T + bias[N]),
 * row-major, PyTorch nn.Linear layout for w. Element types:
 *   wdt bf16: in and w bf16, tensor cores, f32 accumulation (torch.autocast numerics); out f32 or
 *             bf16 (rounded once, from the f32 result of the epilogue);
 *   wdt f32:  in, w and out f32, CUBLAS_COMPUTE_32F without TF32 (the f32 reference path).
 * `in` must already have dtype wdt: the backend converts an input of the other dtype first
 * (cuda_convert); this function never converts it. The bias is f32 (the weights keep biases in
 * f32); cuBLASLt's epilogue takes a bias of D's dtype (CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE: the
 * output's type, save for integer and fp8 kernels), so with bf16 out the bias is first rounded to
 * bf16 into a scratch vector beside the workspace (N at most 65536), as torch.autocast rounds it;
 * with f32 out it is used as it is.
 * Epilogues (backend/epilogue.h), always in the GEMM when odt is bf16:
 *   WS_EPILOGUE_NONE: cuBLASLt BIAS (DEFAULT without bias);
 *   WS_EPILOGUE_GELU: with bf16 out, cuBLASLt GELU_BIAS (GELU without bias), whose GELU is the
 *     tanh approximation (as torch's fused addmm + gelu on CUDA), not the exact erf form: the two
 *     differ by at most 4.7e-4 in absolute value (near x = -2.7); with f32 out, BIAS then
 *     cuda_gelu (exact erf), so the f32 path matches the CPU op.
 * Plans (descriptors and the heuristic's algorithm) are cached per shape, dtypes, epilogue and
 * pointer alignment, so the hot loop makes no heuristic query after the first batch. */
#ifndef WEBSSL_BACKEND_CUDA_CUDA_GEMM_H
#define WEBSSL_BACKEND_CUDA_CUDA_GEMM_H

#include <cuda_runtime_api.h>

#include "backend/epilogue.h"
#include "common/dtype.h"

typedef struct cuda_gemm cuda_gemm;

/* cuBLASLt handle and a workspace on the current device. WS_OK or WS_ERR_DEVICE / NOMEM. */
int cuda_gemm_create(cuda_gemm **out);
void cuda_gemm_free(cuda_gemm *g);

/* Enqueue the product on `stream` (bias may be NULL). WS_OK, or WS_ERR_ARG for a dtype it does
 * not take, or WS_ERR_DEVICE naming the shape, the dtypes, the epilogue and cuBLASLt's status
 * (no algorithm, a failed call) or the failed GELU launch. Never aborts. */
int cuda_gemm_run(cuda_gemm *g, void *out, ws_dtype odt, const void *in, const void *w, ws_dtype wdt,
                  const float *bias, ws_epilogue epi, int M, int N, int K, cudaStream_t stream);

#endif
