/* Host-side launchers of the CUDA backend's kernels, one .cu file each, callable from C. Every
 * launcher enqueues its kernel on `stream` and returns the launch status (cudaGetLastError(), or
 * cudaErrorInvalidValue for arguments it cannot run, without launching); the backend table
 * (backend_cuda.c) turns a failure into an error naming the op and its shape.
 * Semantics are those of the matching op in backend/backend.h; the CPU op in backend/cpu/ is the
 * reference (tests/emu on the CPU, tests/gpu on a device). All pointers are device memory,
 * row-major. Activations have dtype WS_DTYPE_F32 or WS_DTYPE_BF16 as the `dt`/`odt`/`ydt`
 * argument says (bf16 buffers hold __nv_bfloat16, i.e. uint16_t bit patterns); arithmetic is f32
 * and a bf16 result is rounded once, to nearest even. Parameters (LayerNorm weight and bias,
 * biases, LayerScale gamma), pixels and the residual stream are f32.
 * Dimension names: M rows, C channels, H FFN hidden, B images, N tokens, NH heads, hs head size,
 * R resolution, P patch size, g patch grid side. */
#ifndef WEBSSL_BACKEND_CUDA_CUDA_KERNELS_H
#define WEBSSL_BACKEND_CUDA_CUDA_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#include "common/dtype.h"

#ifdef __cplusplus
extern "C" {
#endif

/* out[M,C] (odt) = (in - mean) / sqrt(var + eps) * w + b per row, biased variance, statistics in
 * f32 (one block per row, the row held in registers). out may be in when odt is f32.
 * C must be a multiple of 4 and at most 16384, and the rows 16-byte aligned. */
cudaError_t cuda_layernorm(void *out, ws_dtype odt, const float *in, const float *w, const float *b, int M,
                           int C, float eps, cudaStream_t stream);

/* The residual update after a row-parallel GEMM (and its all-reduce) fused with the next
 * LayerNorm: x[M,C] += gamma * (y + bias) in f32 (y of dtype ydt; bias, gamma [C] or NULL), then
 * xn[M,C] (odt) = LayerNorm(x) * ln_w + ln_b as cuda_layernorm. One read of x and y and one write
 * of x and xn per row. xn may be x when odt is f32 (the LayerNorm output then replaces the
 * stream). Limits on C as cuda_layernorm. */
cudaError_t cuda_residual_layernorm(float *x, const void *y, ws_dtype ydt, const float *bias, const float *gamma,
                                    void *xn, ws_dtype odt, const float *ln_w, const float *ln_b, int M, int C,
                                    float eps, cudaStream_t stream);

/* out[M,H] = silu(in[:, :H]) * in[:, H:2H], in [M, 2H] and out of dtype dt. */
cudaError_t cuda_swiglu(void *out, const void *in, ws_dtype dt, int M, int H, cudaStream_t stream);

/* x[i] = x * 0.5 * (1 + erf(x / sqrt(2))) (exact erf form), in place, n elements of dtype dt. */
cudaError_t cuda_gelu(void *x, ws_dtype dt, size_t n, cudaStream_t stream);

/* pixels [B,3,R,R] (f32) -> cols [B*g*g, 3*P*P] of dtype dt (columns in channel, y, x order),
 * g = R / P: the patch-embedding GEMM reads cols in the weights' dtype directly. */
cudaError_t cuda_im2col(void *cols, ws_dtype dt, const float *pixels, int B, int R, int P, cudaStream_t stream);

/* x[B,N,C], N = 1 + nreg + g2: cls + pos[0], registers, patches + pos[1..]. reg may be NULL
 * when nreg is 0. All f32. */
cudaError_t cuda_tokens(float *x, const float *patches, const float *cls, const float *reg,
                        const float *pos, int B, int nreg, int g2, int C, cudaStream_t stream);

/* out[B,C] = mean of x[B, first:N, C] over tokens. All f32. */
cudaError_t cuda_token_mean(float *out, const float *x, int B, int N, int first, int C,
                            cudaStream_t stream);

/* Per row of scores[M,N] (f32): idx[m] (int32) = the column of the largest value, lowest on ties,
 * NaN never winning over a number (-1 for a row of NaNs), val[m] = that value. One warp per row. */
cudaError_t cuda_row_argmax(int32_t *idx, float *val, const float *scores, int M, int N, cudaStream_t stream);

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

/* dst[i] = src[i] converted from sdt to ddt (f32 or bf16; bf16 results round to nearest even),
 * n elements. Only for a GEMM input whose dtype differs from the weights'. */
cudaError_t cuda_convert(void *dst, ws_dtype ddt, const void *src, ws_dtype sdt, size_t n, cudaStream_t stream);

/* pixels[B,3,R,R] (f32) = (u8[B,R,R,3] / 255 - mean[c]) / std[c] (backend.h `normalize`; the
 * arithmetic of common/pixel_norm.h, bit for bit). mean and std are host arrays, passed by value. */
cudaError_t cuda_normalize(float *pixels, const uint8_t *u8, int B, int R, const float mean[3],
                           const float std[3], cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif
