/* CPU patch extraction for the patch embedding (a stride-P PxP convolution = im2col + GEMM); the
 * columns in f32 or bf16. */
#include "backend/cpu/cpu.h"
#include "common/error.h"

int cpu_im2col(ws_backend *be, void *cols, ws_dtype dt, const float *pixels, int B, int R, int P) {
    const int g = R / P, K = 3 * P * P;
    #pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int py = 0; py < g; py++)
            for (int px = 0; px < g; px++) {
                const size_t dst = ((size_t)b * g * g + (size_t)py * g + px) * K;
                for (int ch = 0; ch < 3; ch++)
                    for (int y = 0; y < P; y++) {
                        const float *src = pixels + (((size_t)b * 3 + ch) * R + (size_t)py * P + y) * R +
                                           (size_t)px * P;
                        for (int x = 0; x < P; x++)
                            cpu_store(cols, dt, dst + (size_t)(ch * P + y) * P + x, src[x]);
                    }
            }
    return WS_OK;
}
