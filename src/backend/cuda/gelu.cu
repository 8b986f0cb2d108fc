/* CUDA GELU (exact erf form, as torch.nn.GELU() and the MAE MLP use), in place on f32 or bf16,
 * f32 arithmetic; grid-stride over groups of V elements (V = 4 when n and the pointer allow
 * 4-wide accesses). Memory bound: one read and one write of n elements. The bf16 GEMM path
 * applies cuBLASLt's GELU epilogue instead (gemm_cublaslt.c); this kernel serves f32 outputs. */
#include "backend/cuda/cuda_elem.h"
#include "backend/cuda/cuda_kernels.h"
#include "backend/cuda/cuda_ptx.h"

template <typename T, int V>
static __global__ void gelu_kernel(T *x, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float v[V];
        vec_load<V>(x + i * V, v);
        for (int j = 0; j < V; j++) v[j] = 0.5f * v[j] * (1.0f + erff(v[j] * 0.70710678118654752f));
        vec_store<V>(x + i * V, v);
    }
}

template <typename T>
static cudaError_t launch(void *x, size_t n, cudaStream_t stream) {
    if (n % 4 == 0 && vec4_ok(x, sizeof(T)))
        CUDA_LAUNCH((gelu_kernel<T, 4>), grid_for(n / 4, 256), 256, stream, (T *)x, n / 4);
    else
        CUDA_LAUNCH((gelu_kernel<T, 1>), grid_for(n, 256), 256, stream, (T *)x, n);
    return cudaGetLastError();
}

extern "C" cudaError_t cuda_gelu(void *x, ws_dtype dt, size_t n, cudaStream_t stream) {
    if (!dtype_ok(dt)) return cudaErrorInvalidValue;
    if (n == 0) return cudaSuccess;
    return dt == WS_DTYPE_F32 ? launch<float>(x, n, stream) : launch<__nv_bfloat16>(x, n, stream);
}
