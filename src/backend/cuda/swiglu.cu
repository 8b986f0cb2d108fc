/* CUDA SwiGLU gate: out[M,H] = silu(in[:, :H]) * in[:, H:2H], grid-stride over M*H outputs.
 * Memory bound: reads 2*M*H floats, writes M*H. */
#include "backend/cuda/cuda_kernels.h"
#include "backend/cuda/cuda_ptx.h"

static __global__ void swiglu_kernel(float *out, const float *in, int H, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        const size_t m = i / H, h = i % H;
        const float a = in[m * 2 * H + h], l = in[m * 2 * H + H + h];
        out[i] = a / (1.0f + expf(-a)) * l;
    }
}

extern "C" cudaError_t cuda_swiglu(float *out, const float *in, int M, int H, cudaStream_t stream) {
    const size_t n = (size_t)M * H;
    if (n == 0) return cudaSuccess;
    const size_t blocks = (n + 255) / 256;
    CUDA_LAUNCH(swiglu_kernel, (unsigned)(blocks < 65536 ? blocks : 65536), 256, stream, out, in, H, n);
    return cudaGetLastError();
}
