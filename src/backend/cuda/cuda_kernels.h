/* Host-side launchers of the CUDA backend's kernels, one .cu file each, callable from C. Every
 * launcher enqueues its kernel on `stream` and returns the launch status (cudaGetLastError());
 * the backend table (backend_cuda.c) checks it with CUDA_CHECK, which names the launcher.
 * Semantics are those of the matching op in backend/backend.h; all pointers are device memory,
 * activations f32, row-major, and the CPU op in backend/cpu/ is the reference
 * (tests/gpu/test_cuda_ops.c). Dimension names: M rows, C channels, H FFN hidden, B images,
 * N tokens, NH heads, hs head size, R resolution, P patch size, g patch grid side. */
#ifndef WEBSSL_BACKEND_CUDA_CUDA_KERNELS_H
#define WEBSSL_BACKEND_CUDA_CUDA_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#include "common/dtype.h"

#ifdef __cplusplus
extern "C" {
#endif

/* out[M,C] = LayerNorm(in) * w + b, f32 statistics (one warp per row). out may be in. */
cudaError_t cuda_layernorm(float *out, const float *in, const float *w, const float *b, int M, int C,
                           float eps, cudaStream_t stream);

/* x[i] = x * 0.5 * (1 + erf(x / sqrt(2))), in place. */
cudaError_t cuda_gelu(float *x, size_t n, cudaStream_t stream);

/* out[M,H] = silu(in[:, :H]) * in[:, H:2H]. */
cudaError_t cuda_swiglu(float *out, const float *in, int M, int H, cudaStream_t stream);

/* x[M,C] += gamma * (y + bias); bias and gamma may be NULL (absent). */
cudaError_t cuda_residual(float *x, const float *y, const float *bias, const float *gamma, int M,
                          int C, cudaStream_t stream);

/* pixels [B,3,R,R] -> cols [B*g*g, 3*P*P] (columns in channel, y, x order), g = R / P. */
cudaError_t cuda_im2col(float *cols, const float *pixels, int B, int R, int P, cudaStream_t stream);

/* x[B,N,C], N = 1 + nreg + g2: cls + pos[0], registers, patches + pos[1..]. reg may be NULL
 * when nreg is 0. */
cudaError_t cuda_tokens(float *x, const float *patches, const float *cls, const float *reg,
                        const float *pos, int B, int nreg, int g2, int C, cudaStream_t stream);

/* out[B,C] = mean of x[B, first:N, C] over tokens. */
cudaError_t cuda_token_mean(float *out, const float *x, int B, int N, int first, int C,
                            cudaStream_t stream);

/* Rounds src to bf16: dst[i] = bf16(src[i]) (round to nearest even), the GEMM input cast. */
cudaError_t cuda_f32_to_bf16(uint16_t *dst, const float *src, size_t n, cudaStream_t stream);

/* Attention core (backend.h `attention`): qkv [B*N, 3*NH*hs] (q rows, then k, then v; head h at
 * columns h*hs of each third) -> out [B*N, NH*hs] = softmax(q k^T / sqrt(hs)) v per (image, head),
 * both of dtype dt (WS_DTYPE_BF16: bf16 bit patterns; WS_DTYPE_F32: float). dt bf16, or dt f32
 * with round_bf16 = 1: q, k, v and the probabilities in bf16, scores, softmax, sums and the output
 * in f32 (the output rounded once to dt); head sizes 64, 80 and 128 run the FlashAttention-2-style
 * tensor-core kernel (qkv 16-byte aligned), others the CUDA-core kernel. dt f32 with
 * round_bf16 = 0: exact f32 on CUDA cores. Head sizes up to 128; cudaErrorInvalidValue beyond or
 * for another dt. */
cudaError_t cuda_attention(void *out, const void *qkv, ws_dtype dt, int B, int N, int NH, int hs, int round_bf16,
                           cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif
