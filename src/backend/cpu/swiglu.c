/* CPU SwiGLU gate: out = silu(gate) * linear, gate = first half of each input row; f32 or bf16
 * in and out, computed in f32. One `omp simd` loop per dtype, so expf is libmvec's vector
 * function (vector_math.h). */
#include "backend/cpu/cpu.h"
#include "backend/cpu/vector_math.h"
#include "common/error.h"

static inline float silu_mul(float g, float l) { return g / (1.0f + expf(-g)) * l; }

CPU_HOT int cpu_swiglu(ws_backend *be, void *out, const void *in, ws_dtype dt, int M, int H) {
    #pragma omp parallel for schedule(static)
    for (int m = 0; m < M; m++) {
        const size_t g0 = (size_t)m * 2 * H, l0 = g0 + (size_t)H, o0 = (size_t)m * H;
        if (dt == WS_DTYPE_BF16) {
            const uint16_t *g = (const uint16_t *)in + g0, *l = (const uint16_t *)in + l0;
            uint16_t *o = (uint16_t *)out + o0;
            #pragma omp simd
            for (int h = 0; h < H; h++)
                o[h] = ws_f32_to_bf16(silu_mul(ws_bf16_to_f32(g[h]), ws_bf16_to_f32(l[h])));
        } else {
            const float *g = (const float *)in + g0, *l = (const float *)in + l0;
            float *o = (float *)out + o0;
            #pragma omp simd
            for (int h = 0; h < H; h++) o[h] = silu_mul(g[h], l[h]);
        }
    }
    return WS_OK;
}
