/* CUDA SwiGLU gate: out[M,H] = silu(in[:, :H]) * in[:, H:2H], f32 or bf16 in and out, f32
 * arithmetic; grid-stride over groups of V outputs (V = 4 when H and the pointers allow 4-wide
 * accesses). Memory bound: reads 2*M*H elements, writes M*H. */
#include "backend/cuda/cuda_elem.h"
#include "backend/cuda/cuda_kernels.h"
#include "backend/cuda/cuda_ptx.h"

template <typename T, int V>
static __global__ void swiglu_kernel(T *out, const T *in, int H, size_t n) {
    const int HV = H / V;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        const size_t m = i / HV;
        const int h = (int)(i % HV) * V;
        float a[V], l[V], o[V];
        vec_load<V>(in + m * 2 * H + h, a);
        vec_load<V>(in + m * 2 * H + H + h, l);
        for (int j = 0; j < V; j++) o[j] = a[j] / (1.0f + expf(-a[j])) * l[j];
        vec_store<V>(out + m * H + h, o);
    }
}

template <typename T>
static cudaError_t launch(void *out, const void *in, int M, int H, cudaStream_t stream) {
    if (H % 4 == 0 && vec4_ok(out, sizeof(T)) && vec4_ok(in, sizeof(T))) {
        const size_t n = (size_t)M * H / 4;
        CUDA_LAUNCH((swiglu_kernel<T, 4>), grid_for(n, 256), 256, stream, (T *)out, (const T *)in, H, n);
    } else {
        const size_t n = (size_t)M * H;
        CUDA_LAUNCH((swiglu_kernel<T, 1>), grid_for(n, 256), 256, stream, (T *)out, (const T *)in, H, n);
    }
    return cudaGetLastError();
}

extern "C" cudaError_t cuda_swiglu(void *out, const void *in, ws_dtype dt, int M, int H, cudaStream_t stream) {
    if (!dtype_ok(dt)) return cudaErrorInvalidValue;
    if (M <= 0 || H <= 0) return cudaSuccess;
    return dt == WS_DTYPE_F32 ? launch<float>(out, in, M, H, stream) : launch<__nv_bfloat16>(out, in, M, H, stream);
}
