/* What the CPU GEMM paths and the attention do around their products, inside the parallel region
 * of the product: the epilogue (GELU in the exact erf form, x * 0.5 * (1 + erf(x / sqrt(2))), as
 * nn.GELU() computes, then the store in the output dtype) on the calling thread's part of the
 * output, and the widening of bf16 inputs to f32 and the rounding of f32 values to bf16 (autocast's
 * rounding of a GEMM or attention input; kept as f32 or stored as bf16) as worksharing loops. */
#include "backend/cpu/cpu.h"
#include "backend/cpu/vector_math.h"

#include <omp.h>

/* acc[j] = GELU(acc[j]) for one block of WS_VBLOCK values. */
static inline void gelu_block(float *acc) {
    #pragma omp simd
    for (int j = 0; j < WS_VBLOCK; j++) acc[j] = 0.5f * acc[j] * (1.0f + erff(acc[j] * 0.70710678118654752f));
}

/* GELU in blocks of WS_VBLOCK values staged in f32 (the row's last partial block padded), so every
 * erff is a call of libmvec's vector function (vector_math.h), never a scalar remainder; the store
 * as bf16 in one `omp simd` loop. */
CPU_HOT void cpu_epilogue(void *out, ws_dtype odt, const float *acc, ws_epilogue epi, int m0, int m1, int c0,
                          int c1, int ld) {
    for (int m = m0; m < m1; m++) {
        const size_t r = (size_t)m * ld;
        if (epi == WS_EPILOGUE_GELU) {
            for (int j0 = c0; j0 < c1; j0 += WS_VBLOCK) {
                const int nb = c1 - j0 < WS_VBLOCK ? c1 - j0 : WS_VBLOCK;
                float v[WS_VBLOCK];
                for (int j = 0; j < WS_VBLOCK; j++) v[j] = j < nb ? acc[r + j0 + j] : 0.0f;
                gelu_block(v);
                for (int j = 0; j < nb; j++) cpu_store(out, odt, r + j0 + j, v[j]);
            }
        } else if (odt == WS_DTYPE_BF16) {
            uint16_t *o = (uint16_t *)out + r;
            const float *a = acc + r;
            #pragma omp simd
            for (int j = c0; j < c1; j++) o[j] = ws_f32_to_bf16(a[j]);
        }   /* f32 without GELU: in place, nothing to do */
    }
}

void cpu_thread_rows(size_t n, size_t *r0, size_t *r1) {
    const size_t T = (size_t)omp_get_num_threads(), t = (size_t)omp_get_thread_num();
    *r0 = n * t / T;
    *r1 = n * (t + 1) / T;
}

CPU_HOT void cpu_widen(float *dst, const uint16_t *src, size_t n) {
    #pragma omp for simd schedule(static)
    for (size_t i = 0; i < n; i++) dst[i] = ws_bf16_to_f32(src[i]);
}

CPU_HOT void cpu_round_bf16(float *dst, const float *src, size_t n) {
    #pragma omp for simd schedule(static)
    for (size_t i = 0; i < n; i++) dst[i] = ws_bf16_to_f32(ws_f32_to_bf16(src[i]));
}

CPU_HOT void cpu_to_bf16(uint16_t *dst, const float *src, size_t n) {
    #pragma omp for simd schedule(static)
    for (size_t i = 0; i < n; i++) dst[i] = ws_f32_to_bf16(src[i]);
}
