/* CPU SwiGLU gate: out = silu(gate) * linear, gate = first half of each input row. */
#include "backend/cpu/cpu.h"

#include <math.h>

CPU_HOT void cpu_swiglu(ws_backend *be, float *out, const float *in, int M, int H) {
    #pragma omp parallel for schedule(static)
    for (int m = 0; m < M; m++) {
        const float *g = in + (size_t)m * 2 * H, *l = g + H;
        float *o = out + (size_t)m * H;
        for (int h = 0; h < H; h++) o[h] = g[h] / (1.0f + expf(-g[h])) * l[h];
    }
}
