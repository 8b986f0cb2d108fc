/* CPU SwiGLU gate: out = silu(gate) * linear, gate = first half of each input row; f32 or bf16
 * in and out, computed in f32. The gate runs in blocks of WS_VBLOCK values staged in f32 (the
 * row's last partial block padded), so every expf is a call of libmvec's vector function
 * (vector_math.h), never a scalar remainder. */
#include "backend/cpu/cpu.h"
#include "backend/cpu/vector_math.h"
#include "common/error.h"

/* o[j] = silu(g[j]) * l[j] for one block. */
static inline void silu_mul_block(float *o, const float *g, const float *l) {
    #pragma omp simd
    for (int j = 0; j < WS_VBLOCK; j++) o[j] = g[j] / (1.0f + expf(-g[j])) * l[j];
}

CPU_HOT int cpu_swiglu(ws_backend *be, void *out, const void *in, ws_dtype dt, int M, int H) {
    #pragma omp parallel for schedule(static)
    for (int m = 0; m < M; m++) {
        const size_t g0 = (size_t)m * 2 * H, l0 = g0 + (size_t)H, o0 = (size_t)m * H;
        float g[WS_VBLOCK], l[WS_VBLOCK], o[WS_VBLOCK];
        for (int h0 = 0; h0 < H; h0 += WS_VBLOCK) {
            const int n = H - h0 < WS_VBLOCK ? H - h0 : WS_VBLOCK;
            for (int j = 0; j < WS_VBLOCK; j++) {
                g[j] = j < n ? cpu_load(in, dt, g0 + h0 + j) : 0.0f;
                l[j] = j < n ? cpu_load(in, dt, l0 + h0 + j) : 0.0f;
            }
            silu_mul_block(o, g, l);
            for (int j = 0; j < n; j++) cpu_store(out, dt, o0 + h0 + j, o[j]);
        }
    }
    return WS_OK;
}
