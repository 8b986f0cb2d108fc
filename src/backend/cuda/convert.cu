/* CUDA dtype conversion between f32 and bf16 (round to nearest even, as torch.autocast casts),
 * for a GEMM input whose dtype differs from the weights'; the bf16 forward path itself needs none
 * (kernels and GEMMs write their outputs in the activation dtype). Grid-stride over groups of V
 * elements (V = 4 when n and the pointers allow 4-wide accesses). Memory bound. */
#include "backend/cuda/cuda_elem.h"
#include "backend/cuda/cuda_kernels.h"
#include "backend/cuda/cuda_ptx.h"

template <typename D, typename S, int V>
static __global__ void convert_kernel(D *dst, const S *src, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float v[V];
        vec_load<V>(src + i * V, v);
        vec_store<V>(dst + i * V, v);
    }
}

template <typename D, typename S>
static cudaError_t launch(void *dst, const void *src, size_t n, cudaStream_t stream) {
    if (n % 4 == 0 && vec4_ok(dst, sizeof(D)) && vec4_ok(src, sizeof(S)))
        CUDA_LAUNCH((convert_kernel<D, S, 4>), grid_for(n / 4, 256), 256, stream, (D *)dst, (const S *)src, n / 4);
    else
        CUDA_LAUNCH((convert_kernel<D, S, 1>), grid_for(n, 256), 256, stream, (D *)dst, (const S *)src, n);
    return cudaGetLastError();
}

extern "C" cudaError_t cuda_convert(void *dst, ws_dtype ddt, const void *src, ws_dtype sdt, size_t n,
                                    cudaStream_t stream) {
    if (!dtype_ok(ddt) || !dtype_ok(sdt)) return cudaErrorInvalidValue;
    if (n == 0) return cudaSuccess;
    typedef __nv_bfloat16 bf16;
    if (ddt == WS_DTYPE_BF16)
        return sdt == WS_DTYPE_F32 ? launch<bf16, float>(dst, src, n, stream) : launch<bf16, bf16>(dst, src, n, stream);
    return sdt == WS_DTYPE_F32 ? launch<float, float>(dst, src, n, stream) : launch<float, bf16>(dst, src, n, stream);
}
