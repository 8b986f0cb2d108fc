/* CUDA LayerNorm over rows of C channels: one warp per row, mean and biased variance in f32 by
 * two passes over the row (the second pass reads from L1/L2), then the affine transform.
 * Memory bound: 3 reads + 1 write of M*C floats (the repeated reads mostly hit cache). */
#include "backend/cuda/cuda_kernels.h"
#include "backend/cuda/cuda_ptx.h"

enum { LN_WARPS = 8 };

static __device__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

static __global__ void layernorm_kernel(float *out, const float *in, const float *w, const float *b,
                                        int M, int C, float eps) {
    const int row = blockIdx.x * LN_WARPS + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= M) return;
    const float *x = in + (size_t)row * C;
    float s = 0.0f;
    for (int c = lane; c < C; c += 32) s += x[c];
    const float mean = warp_sum(s) / (float)C;
    float v = 0.0f;
    for (int c = lane; c < C; c += 32) {
        const float d = x[c] - mean;
        v += d * d;
    }
    const float rstd = rsqrtf(warp_sum(v) / (float)C + eps);
    float *y = out + (size_t)row * C;
    for (int c = lane; c < C; c += 32) y[c] = (x[c] - mean) * rstd * w[c] + b[c];
}

extern "C" cudaError_t cuda_layernorm(float *out, const float *in, const float *w, const float *b,
                                      int M, int C, float eps, cudaStream_t stream) {
    if (M <= 0) return cudaSuccess;
    CUDA_LAUNCH(layernorm_kernel, (M + LN_WARPS - 1) / LN_WARPS, LN_WARPS * 32, stream, out, in, w, b, M, C, eps);
    return cudaGetLastError();
}
