/* Element access shared by the CUDA kernels (device code, included by the .cu files): activations
 * stored as f32 or bf16 (__nv_bfloat16) and always computed in f32, V consecutive elements at a
 * time. V = 4 is one 16-byte (f32) or 8-byte (bf16) access, which needs the address aligned to
 * 4 elements (vec4_ok); V = 1 is a scalar access. Plus the launchers' helpers: the activation
 * dtypes a kernel takes, their element size, the grid of a grid-stride loop. */
#ifndef WEBSSL_BACKEND_CUDA_CUDA_ELEM_H
#define WEBSSL_BACKEND_CUDA_CUDA_ELEM_H

#include <stddef.h>
#include <stdint.h>

#include <cuda_bf16.h>

#include "common/dtype.h"

struct __align__(8) bf16x4 {
    __nv_bfloat162 lo, hi;
};

static __device__ __forceinline__ float to_f32(float v) { return v; }
static __device__ __forceinline__ float to_f32(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T>
static __device__ __forceinline__ T from_f32(float v);
template <>
__device__ __forceinline__ float from_f32<float>(float v) { return v; }
template <>
__device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

/* v[0..V) = p[0..V) as f32. */
template <int V, typename T>
static __device__ __forceinline__ void vec_load(const T *p, float *v) {
    if constexpr (V == 4 && sizeof(T) == 4) {
        const float4 q = *reinterpret_cast<const float4 *>(p);
        v[0] = q.x, v[1] = q.y, v[2] = q.z, v[3] = q.w;
    } else if constexpr (V == 4) {
        const bf16x4 q = *reinterpret_cast<const bf16x4 *>(p);
        const float2 a = __bfloat1622float2(q.lo), b = __bfloat1622float2(q.hi);
        v[0] = a.x, v[1] = a.y, v[2] = b.x, v[3] = b.y;
    } else {
        for (int i = 0; i < V; i++) v[i] = to_f32(p[i]);
    }
}

/* p[0..V) = v[0..V), rounded to T. */
template <int V, typename T>
static __device__ __forceinline__ void vec_store(T *p, const float *v) {
    if constexpr (V == 4 && sizeof(T) == 4) {
        *reinterpret_cast<float4 *>(p) = make_float4(v[0], v[1], v[2], v[3]);
    } else if constexpr (V == 4) {
        bf16x4 q;
        q.lo = __floats2bfloat162_rn(v[0], v[1]);
        q.hi = __floats2bfloat162_rn(v[2], v[3]);
        *reinterpret_cast<bf16x4 *>(p) = q;
    } else {
        for (int i = 0; i < V; i++) p[i] = from_f32<T>(v[i]);
    }
}

/* The activation dtypes of the kernels: f32 and bf16. */
static inline bool dtype_ok(ws_dtype dt) { return dt == WS_DTYPE_F32 || dt == WS_DTYPE_BF16; }
static inline size_t elem_bytes(ws_dtype dt) { return dt == WS_DTYPE_BF16 ? 2 : 4; }

/* Whether p, holding elements of `size` bytes, may be accessed 4 elements at a time. */
static inline bool vec4_ok(const void *p, size_t size) { return (uintptr_t)p % (4 * size) == 0; }

/* Blocks of `threads` for a grid-stride loop over n items (capped: each thread loops). */
static inline unsigned grid_for(size_t n, unsigned threads) {
    const size_t blocks = (n + threads - 1) / threads;
    return (unsigned)(blocks < 65536 ? blocks : 65536);
}

#endif
