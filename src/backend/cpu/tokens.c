/* CPU token assembly: CLS + register tokens + patch embeddings, with position embeddings added. */
#include "backend/cpu/cpu.h"
#include "common/error.h"

#include <string.h>

int cpu_tokens(ws_backend *be, float *x, const float *patches, const float *cls, const float *reg,
               const float *pos, int B, int nreg, int g2, int C) {
    const int N = 1 + nreg + g2;
    #pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int t = 0; t < N; t++) {
            float *dst = x + ((size_t)b * N + t) * C;
            if (t == 0) {
                for (int c = 0; c < C; c++) dst[c] = cls[c] + pos[c];
            } else if (t <= nreg) {
                memcpy(dst, reg + (size_t)(t - 1) * C, (size_t)C * sizeof(float));
            } else {
                int p = t - 1 - nreg;
                const float *src = patches + ((size_t)b * g2 + p) * C, *pp = pos + (size_t)(1 + p) * C;
                for (int c = 0; c < C; c++) dst[c] = src[c] + pp[c];
            }
        }
    return WS_OK;
}
