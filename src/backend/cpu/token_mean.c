/* CPU mean over a range of tokens (patch_mean output). */
#include "backend/cpu/cpu.h"
#include "common/error.h"

int cpu_token_mean(ws_backend *be, float *out, const float *x, int B, int N, int first, int C) {
    #pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) {
        float *o = out + (size_t)b * C;
        for (int c = 0; c < C; c++) o[c] = 0.0f;
        for (int t = first; t < N; t++) {
            const float *r = x + ((size_t)b * N + t) * C;
            for (int c = 0; c < C; c++) o[c] += r[c];
        }
        for (int c = 0; c < C; c++) o[c] /= (float)(N - first);
    }
    return WS_OK;
}
