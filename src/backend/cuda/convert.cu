/* CUDA f32 -> bf16 rounding of GEMM inputs (torch.autocast casts activations the same way,
 * round to nearest even). Memory bound: reads 4n bytes, writes 2n. */
#include "backend/cuda/cuda_kernels.h"
#include "backend/cuda/cuda_ptx.h"

#include <cuda_bf16.h>

static __global__ void f32_to_bf16_kernel(__nv_bfloat16 *dst, const float *src, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        dst[i] = __float2bfloat16_rn(src[i]);
}

extern "C" cudaError_t cuda_f32_to_bf16(uint16_t *dst, const float *src, size_t n, cudaStream_t stream) {
    if (n == 0) return cudaSuccess;
    const size_t blocks = (n + 255) / 256;
    CUDA_LAUNCH(f32_to_bf16_kernel, (unsigned)(blocks < 65536 ? blocks : 65536), 256, stream,
                (__nv_bfloat16 *)dst, src, n);
    return cudaGetLastError();
}
