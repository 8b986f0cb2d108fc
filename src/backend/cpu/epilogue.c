/* What the CPU matmul does around its f32 GEMM paths: the epilogue (GELU in the exact erf form,
 * x * 0.5 * (1 + erf(x / sqrt(2))), as nn.GELU() computes, then the store in the output dtype),
 * the widening of bf16 inputs to f32, and the rounding of f32 values to bf16 (autocast's rounding
 * of a GEMM or attention input). */
#include "backend/cpu/cpu.h"
#include "backend/cpu/vector_math.h"

/* acc[j] = GELU(acc[j]) for one block of WS_VBLOCK values. */
static inline void gelu_block(float *acc) {
    #pragma omp simd
    for (int j = 0; j < WS_VBLOCK; j++) acc[j] = 0.5f * acc[j] * (1.0f + erff(acc[j] * 0.70710678118654752f));
}

/* GELU in blocks of WS_VBLOCK values staged in f32 (the last partial block padded), so every erff
 * is a call of libmvec's vector function (vector_math.h), never a scalar remainder; the store as
 * bf16 in one `omp simd` loop. */
CPU_HOT void cpu_epilogue(void *out, ws_dtype odt, const float *acc, ws_epilogue epi, size_t n) {
    if (epi == WS_EPILOGUE_GELU) {
        const size_t blocks = (n + WS_VBLOCK - 1) / WS_VBLOCK;
        #pragma omp parallel for schedule(static)
        for (size_t bi = 0; bi < blocks; bi++) {
            const size_t i0 = bi * WS_VBLOCK, nb = n - i0 < WS_VBLOCK ? n - i0 : WS_VBLOCK;
            float v[WS_VBLOCK];
            for (size_t j = 0; j < WS_VBLOCK; j++) v[j] = j < nb ? acc[i0 + j] : 0.0f;
            gelu_block(v);
            for (size_t j = 0; j < nb; j++) cpu_store(out, odt, i0 + j, v[j]);
        }
        return;
    }
    if (odt == WS_DTYPE_F32) return;   /* in place: nothing to do */
    uint16_t *o = out;
    #pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) o[i] = ws_f32_to_bf16(acc[i]);
}

CPU_HOT void cpu_widen(float *dst, const uint16_t *src, size_t n) {
    #pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) dst[i] = ws_bf16_to_f32(src[i]);
}

CPU_HOT void cpu_round_bf16(float *dst, const float *src, size_t n) {
    #pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) dst[i] = ws_bf16_to_f32(ws_f32_to_bf16(src[i]));
}
