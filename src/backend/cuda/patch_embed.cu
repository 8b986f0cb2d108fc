/* CUDA patch extraction for the patch embedding: the stride-P PxP convolution is this im2col
 * followed by one GEMM with the Conv2d weight flattened to [C, 3*P*P] (backend matmul, bias in
 * the GEMM epilogue). One thread per output element; reads and writes B*3*R*R floats. */
#include "backend/cuda/cuda_kernels.h"
#include "backend/cuda/cuda_ptx.h"

static __global__ void im2col_kernel(float *cols, const float *pixels, int R, int P, int g, size_t n) {
    const int K = 3 * P * P;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        const size_t row = i / K;                 /* b * g*g + py * g + px */
        const int k = (int)(i % K), ch = k / (P * P), y = (k / P) % P, x = k % P;
        const size_t b = row / ((size_t)g * g);
        const int p = (int)(row % ((size_t)g * g)), py = p / g, px = p % g;
        cols[i] = pixels[((b * 3 + ch) * R + (size_t)py * P + y) * R + (size_t)px * P + x];
    }
}

extern "C" cudaError_t cuda_im2col(float *cols, const float *pixels, int B, int R, int P, cudaStream_t stream) {
    const int g = R / P;
    const size_t n = (size_t)B * g * g * 3 * P * P;
    if (n == 0) return cudaSuccess;
    const size_t blocks = (n + 255) / 256;
    CUDA_LAUNCH(im2col_kernel, (unsigned)(blocks < 65536 ? blocks : 65536), 256, stream, cols, pixels, R, P, g, n);
    return cudaGetLastError();
}
