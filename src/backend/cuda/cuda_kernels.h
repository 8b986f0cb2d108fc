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

/* Attention core (backend.h `attention`): qkv [B*N, 3*NH*hs] -> out [B*N, NH*hs].
 * round_bf16 = 1: q, k, v and the probabilities rounded to bf16, scores, softmax and sums in
 * f32; head sizes 64, 80 and 128 run the flash-style tensor-core kernel (mma.sync m16n8k16),
 * others the CUDA-core kernel. round_bf16 = 0: f32 flash-style kernel on CUDA cores. Head sizes
 * up to 128; cudaErrorInvalidValue beyond. */
cudaError_t cuda_attention(float *out, const float *qkv, int B, int N, int NH, int hs, int round_bf16,
                           cudaStream_t stream);

/* pixels[B,3,R,R] (f32) = (u8[B,R,R,3] / 255 - mean[c]) / std[c] (backend.h `normalize`; the
 * arithmetic of common/pixel_norm.h, bit for bit). mean and std are host arrays, passed by value. */
cudaError_t cuda_normalize(float *pixels, const uint8_t *u8, int B, int R, const float mean[3],
                           const float std[3], cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif
