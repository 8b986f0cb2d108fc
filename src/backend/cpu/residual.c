/* CPU residual update x += gamma * (y + bias): the branch output after the TP all-reduce gets its
 * bias and LayerScale here, once, fused with the residual add. */
#include "backend/cpu/cpu.h"

CPU_HOT void cpu_residual(ws_backend *be, float *x, const float *y, const float *bias,
                          const float *gamma, int M, int C) {
    #pragma omp parallel for schedule(static)
    for (int m = 0; m < M; m++) {
        float *xr = x + (size_t)m * C;
        const float *yr = y + (size_t)m * C;
        for (int c = 0; c < C; c++) {
            float v = yr[c] + (bias ? bias[c] : 0.0f);
            xr[c] += gamma ? gamma[c] * v : v;
        }
    }
}
