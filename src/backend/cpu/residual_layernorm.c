/* CPU residual update fused with the LayerNorm that follows it, one pass per row:
 * x += gamma * (y + bias) (the branch output after the TP all-reduce gets its bias and LayerScale
 * here, once), then xn = LayerNorm(x) in f32 or bf16. xn may be x (the final LayerNorm, f32). */
#include "backend/cpu/cpu.h"
#include "common/error.h"

CPU_HOT static void residual_row(float *x, const void *y, ws_dtype ydt, size_t y0, const float *bias,
                                 const float *gamma, int C) {
    for (int c = 0; c < C; c++) {
        float v = cpu_load(y, ydt, y0 + (size_t)c) + (bias ? bias[c] : 0.0f);
        x[c] += gamma ? gamma[c] * v : v;
    }
}

int cpu_residual_layernorm(ws_backend *be, float *x, const void *y, ws_dtype ydt, const float *bias,
                           const float *gamma, void *xn, ws_dtype odt, const float *ln_w,
                           const float *ln_b, int M, int C, float eps) {
    const size_t osz = ws_dtype_size(odt);
    #pragma omp parallel for schedule(static)
    for (int m = 0; m < M; m++) {
        float *xr = x + (size_t)m * C;
        residual_row(xr, y, ydt, (size_t)m * C, bias, gamma, C);
        cpu_layernorm_row((char *)xn + (size_t)m * C * osz, odt, xr, ln_w, ln_b, C, eps);
    }
    return WS_OK;
}
