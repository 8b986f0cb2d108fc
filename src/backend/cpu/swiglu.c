/* CPU SwiGLU gate: out = silu(gate) * linear, gate = first half of each input row; f32 or bf16
 * in and out, computed in f32. The gate runs in blocks of WS_VBLOCK values, so every expf is a
 * call of libmvec's vector function (vector_math.h), never a scalar remainder: f32 rows in place,
 * bf16 rows and the last partial block of a row staged in f32 (padded). The dtype is chosen per
 * row, not per element, so that the loops vectorise (the f32 pass ran at half its speed when each
 * value went through cpu_load / cpu_store). */
#include "backend/cpu/cpu.h"
#include "backend/cpu/vector_math.h"
#include "common/error.h"

#include <string.h>

/* o[j] = silu(g[j]) * l[j] for one block. */
static inline void silu_mul_block(float *o, const float *g, const float *l) {
    #pragma omp simd
    for (int j = 0; j < WS_VBLOCK; j++) o[j] = g[j] / (1.0f + expf(-g[j])) * l[j];
}

/* One f32 row of H: whole blocks in place, the last n < WS_VBLOCK values staged. */
static inline void row_f32(float *o, const float *g, const float *l, int H) {
    int h0 = 0;
    for (; h0 + WS_VBLOCK <= H; h0 += WS_VBLOCK) silu_mul_block(o + h0, g + h0, l + h0);
    const size_t n = (size_t)(H - h0);
    if (!n) return;
    float gs[WS_VBLOCK] = {0}, ls[WS_VBLOCK] = {0}, os[WS_VBLOCK];
    memcpy(gs, g + h0, n * sizeof(float));
    memcpy(ls, l + h0, n * sizeof(float));
    silu_mul_block(os, gs, ls);
    memcpy(o + h0, os, n * sizeof(float));
}

/* One bf16 block of n <= WS_VBLOCK values through f32 copies (padded past n). */
static inline void block_bf16(uint16_t *o, const uint16_t *g, const uint16_t *l, int n) {
    float gs[WS_VBLOCK], ls[WS_VBLOCK], os[WS_VBLOCK];
    if (n == WS_VBLOCK) {
        #pragma omp simd
        for (int j = 0; j < WS_VBLOCK; j++) gs[j] = ws_bf16_to_f32(g[j]), ls[j] = ws_bf16_to_f32(l[j]);
    } else {
        for (int j = 0; j < WS_VBLOCK; j++) {
            gs[j] = j < n ? ws_bf16_to_f32(g[j]) : 0.0f;
            ls[j] = j < n ? ws_bf16_to_f32(l[j]) : 0.0f;
        }
    }
    silu_mul_block(os, gs, ls);
    if (n == WS_VBLOCK) {
        #pragma omp simd
        for (int j = 0; j < WS_VBLOCK; j++) o[j] = ws_f32_to_bf16(os[j]);
    } else {
        for (int j = 0; j < n; j++) o[j] = ws_f32_to_bf16(os[j]);
    }
}

/* One bf16 row of H, block by block. */
static inline void row_bf16(uint16_t *o, const uint16_t *g, const uint16_t *l, int H) {
    for (int h0 = 0; h0 < H; h0 += WS_VBLOCK)
        block_bf16(o + h0, g + h0, l + h0, H - h0 < WS_VBLOCK ? H - h0 : WS_VBLOCK);
}

CPU_HOT int cpu_swiglu(ws_backend *be, void *out, const void *in, ws_dtype dt, int M, int H) {
    #pragma omp parallel for schedule(static)
    for (int m = 0; m < M; m++) {
        const size_t g0 = (size_t)m * 2 * H, l0 = g0 + (size_t)H, o0 = (size_t)m * H;
        if (dt == WS_DTYPE_BF16)
            row_bf16((uint16_t *)out + o0, (const uint16_t *)in + g0, (const uint16_t *)in + l0, H);
        else
            row_f32((float *)out + o0, (const float *)in + g0, (const float *)in + l0, H);
    }
    return WS_OK;
}
