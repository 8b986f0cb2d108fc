/* CPU patch extraction for the patch embedding (a stride-P PxP convolution = im2col + GEMM). */
#include "backend/cpu/cpu.h"

#include <string.h>

void cpu_im2col(ws_backend *be, float *cols, const float *pixels, int B, int R, int P) {
    const int g = R / P, K = 3 * P * P;
    #pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int py = 0; py < g; py++)
            for (int px = 0; px < g; px++) {
                float *dst = cols + ((size_t)b * g * g + (size_t)py * g + px) * K;
                for (int ch = 0; ch < 3; ch++)
                    for (int y = 0; y < P; y++)
                        memcpy(dst + (ch * P + y) * P,
                               pixels + (((size_t)b * 3 + ch) * R + (size_t)py * P + y) * R + (size_t)px * P,
                               (size_t)P * sizeof(float));
            }
}
