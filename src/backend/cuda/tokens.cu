/* CUDA token assembly (CLS + registers + patch embeddings, plus position embeddings) and the
 * mean over patch tokens for the patch_mean feature. Both memory bound, one pass each. */
#include "backend/cuda/cuda_kernels.h"
#include "backend/cuda/cuda_ptx.h"

static __global__ void tokens_kernel(float *x, const float *patches, const float *cls, const float *reg,
                                     const float *pos, int N, int nreg, int g2, int C, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        const int c = (int)(i % C), t = (int)((i / C) % N);
        const size_t b = i / ((size_t)N * C);
        if (t == 0) {
            x[i] = cls[c] + pos[c];
        } else if (t <= nreg) {
            x[i] = reg[(size_t)(t - 1) * C + c];
        } else {
            const int p = t - 1 - nreg;
            x[i] = patches[(b * g2 + p) * C + c] + pos[(size_t)(1 + p) * C + c];
        }
    }
}

extern "C" cudaError_t cuda_tokens(float *x, const float *patches, const float *cls, const float *reg,
                                   const float *pos, int B, int nreg, int g2, int C, cudaStream_t stream) {
    const int N = 1 + nreg + g2;
    const size_t n = (size_t)B * N * C;
    if (n == 0) return cudaSuccess;
    const size_t blocks = (n + 255) / 256;
    CUDA_LAUNCH(tokens_kernel, (unsigned)(blocks < 65536 ? blocks : 65536), 256, stream, x, patches, cls, reg, pos,
                N, nreg, g2, C, n);
    return cudaGetLastError();
}

/* One thread per (image, channel): consecutive threads read consecutive channels (coalesced). */
static __global__ void token_mean_kernel(float *out, const float *x, int B, int N, int first, int C) {
    const size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i >= (size_t)B * C) return;
    const size_t b = i / C;
    const int c = (int)(i % C);
    float s = 0.0f;
    for (int t = first; t < N; t++) s += x[(b * N + t) * C + c];
    out[i] = s / (float)(N - first);
}

extern "C" cudaError_t cuda_token_mean(float *out, const float *x, int B, int N, int first, int C,
                                       cudaStream_t stream) {
    const size_t n = (size_t)B * C;
    if (n == 0 || N <= first) return cudaSuccess;
    CUDA_LAUNCH(token_mean_kernel, (unsigned)((n + 255) / 256), 256, stream, out, x, B, N, first, C);
    return cudaGetLastError();
}
