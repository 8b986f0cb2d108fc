/* CPU LayerNorm over the last dimension (two-pass mean/variance in f32, as torch does; the sums
 * in vector lanes, `omp simd`), output in f32 or bf16. */
#include "backend/cpu/cpu.h"
#include "common/error.h"

#include <math.h>

CPU_HOT void cpu_layernorm_row(void *out, ws_dtype odt, const float *x, const float *w, const float *b,
                               int C, float eps) {
    float sum = 0.0f;
    #pragma omp simd reduction(+ : sum)
    for (int c = 0; c < C; c++) sum += x[c];
    float mean = sum / C, var = 0.0f;
    #pragma omp simd reduction(+ : var)
    for (int c = 0; c < C; c++) {
        float d = x[c] - mean;
        var += d * d;
    }
    float rstd = 1.0f / sqrtf(var / C + eps);
    if (odt == WS_DTYPE_BF16) {
        uint16_t *o = out;
        #pragma omp simd
        for (int c = 0; c < C; c++) o[c] = ws_f32_to_bf16((x[c] - mean) * rstd * w[c] + b[c]);
    } else {
        float *o = out;
        #pragma omp simd
        for (int c = 0; c < C; c++) o[c] = (x[c] - mean) * rstd * w[c] + b[c];
    }
}

int cpu_layernorm(ws_backend *be, void *out, ws_dtype odt, const float *in, const float *w,
                  const float *b, int M, int C, float eps) {
    const size_t osz = ws_dtype_size(odt);
    #pragma omp parallel for schedule(static)
    for (int m = 0; m < M; m++)
        cpu_layernorm_row((char *)out + (size_t)m * C * osz, odt, in + (size_t)m * C, w, b, C, eps);
    return WS_OK;
}
