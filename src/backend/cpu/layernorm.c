/* CPU LayerNorm over the last dimension (two-pass mean/variance in f32, as torch does). */
#include "backend/cpu/cpu.h"

#include <math.h>

CPU_HOT void cpu_layernorm(ws_backend *be, float *out, const float *in, const float *w,
                           const float *b, int M, int C, float eps) {
    #pragma omp parallel for schedule(static)
    for (int m = 0; m < M; m++) {
        const float *x = in + (size_t)m * C;
        float *y = out + (size_t)m * C;
        float sum = 0.0f;
        for (int c = 0; c < C; c++) sum += x[c];
        float mean = sum / C, var = 0.0f;
        for (int c = 0; c < C; c++) {
            float d = x[c] - mean;
            var += d * d;
        }
        float rstd = 1.0f / sqrtf(var / C + eps);
        for (int c = 0; c < C; c++) y[c] = (x[c] - mean) * rstd * w[c] + b[c];
    }
}
