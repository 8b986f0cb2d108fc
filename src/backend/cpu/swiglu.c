/* CPU SwiGLU gate: out = silu(gate) * linear, gate = first half of each input row; f32 or bf16
 * in and out, computed in f32. */
#include "backend/cpu/cpu.h"
#include "common/error.h"

#include <math.h>

CPU_HOT int cpu_swiglu(ws_backend *be, void *out, const void *in, ws_dtype dt, int M, int H) {
    #pragma omp parallel for schedule(static)
    for (int m = 0; m < M; m++) {
        const size_t g0 = (size_t)m * 2 * H, l0 = g0 + (size_t)H, o0 = (size_t)m * H;
        for (int h = 0; h < H; h++) {
            const float g = cpu_load(in, dt, g0 + (size_t)h), l = cpu_load(in, dt, l0 + (size_t)h);
            cpu_store(out, dt, o0 + (size_t)h, g / (1.0f + expf(-g)) * l);
        }
    }
    return WS_OK;
}
