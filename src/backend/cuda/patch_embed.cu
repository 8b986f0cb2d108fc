/* CUDA patch extraction for the patch embedding: the stride-P PxP convolution is this im2col
 * followed by one GEMM with the Conv2d weight flattened to [C, 3*P*P] (backend matmul, bias in
 * the GEMM epilogue), so cols are written in the GEMM's input dtype (f32 or bf16, rounded once).
 * One thread per output element; reads B*3*R*R floats, writes as many elements. */
#include "backend/cuda/cuda_elem.h"
#include "backend/cuda/cuda_kernels.h"
#include "backend/cuda/cuda_ptx.h"

template <typename T>
static __global__ void im2col_kernel(T *cols, const float *pixels, int R, int P, int g, size_t n) {
    const int K = 3 * P * P;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        const size_t row = i / K;                 /* b * g*g + py * g + px */
        const int k = (int)(i % K), ch = k / (P * P), y = (k / P) % P, x = k % P;
        const size_t b = row / ((size_t)g * g);
        const int p = (int)(row % ((size_t)g * g)), py = p / g, px = p % g;
        cols[i] = from_f32<T>(pixels[((b * 3 + ch) * R + (size_t)py * P + y) * R + (size_t)px * P + x]);
    }
}

extern "C" cudaError_t cuda_im2col(void *cols, ws_dtype dt, const float *pixels, int B, int R, int P,
                                   cudaStream_t stream) {
    if (!dtype_ok(dt)) return cudaErrorInvalidValue;
    const int g = R / P;
    const size_t n = (size_t)B * g * g * 3 * P * P;
    if (n == 0) return cudaSuccess;
    if (dt == WS_DTYPE_F32)
        CUDA_LAUNCH(im2col_kernel<float>, grid_for(n, 256), 256, stream, (float *)cols, pixels, R, P, g, n);
    else
        CUDA_LAUNCH(im2col_kernel<__nv_bfloat16>, grid_for(n, 256), 256, stream, (__nv_bfloat16 *)cols, pixels, R,
                    P, g, n);
    return cudaGetLastError();
}
