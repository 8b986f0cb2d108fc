/* What the CPU matmul does around its f32 GEMM paths: the epilogue (GELU in the exact erf form,
 * x * 0.5 * (1 + erf(x / sqrt(2))), as nn.GELU() computes, then the store in the output dtype),
 * the widening of bf16 inputs to f32, and the rounding of f32 values to bf16 (autocast's rounding
 * of a GEMM or attention input). */
#include "backend/cpu/cpu.h"
#include "backend/cpu/vector_math.h"

static inline float gelu_erf(float v) { return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f)); }

/* One `omp simd` loop per case, so erff is libmvec's vector function (vector_math.h). */
CPU_HOT void cpu_epilogue(void *out, ws_dtype odt, const float *acc, ws_epilogue epi, size_t n) {
    const int gelu = epi == WS_EPILOGUE_GELU;
    if (odt == WS_DTYPE_F32) {
        float *o = out;
        if (!gelu) return;   /* in place: nothing to do */
        #pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < n; i++) o[i] = gelu_erf(acc[i]);
        return;
    }
    uint16_t *o = out;
    if (gelu) {
        #pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < n; i++) o[i] = ws_f32_to_bf16(gelu_erf(acc[i]));
    } else {
        #pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < n; i++) o[i] = ws_f32_to_bf16(acc[i]);
    }
}

CPU_HOT void cpu_widen(float *dst, const uint16_t *src, size_t n) {
    #pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) dst[i] = ws_bf16_to_f32(src[i]);
}

CPU_HOT void cpu_round_bf16(float *dst, const float *src, size_t n) {
    #pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) dst[i] = ws_bf16_to_f32(ws_f32_to_bf16(src[i]));
}
