/* CUDA GELU (exact erf form, as torch.nn.GELU() and the MAE MLP use), in place, grid-stride.
 * Memory bound: one read and one write of n floats. */
#include "backend/cuda/cuda_kernels.h"
#include "backend/cuda/cuda_ptx.h"

static __global__ void gelu_kernel(float *x, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        const float v = x[i];
        x[i] = 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
    }
}

extern "C" cudaError_t cuda_gelu(float *x, size_t n, cudaStream_t stream) {
    if (n == 0) return cudaSuccess;
    const size_t blocks = (n + 255) / 256;
    CUDA_LAUNCH(gelu_kernel, (unsigned)(blocks < 65536 ? blocks : 65536), 256, stream, x, n);
    return cudaGetLastError();
}
