/* CPU GEMM: out[M,N] = in[M,K] . w[N,K]^T + bias, through OpenBLAS sgemm.
 * f32 weights: one sgemm (bias pre-filled into `out`, beta = 1).
 * bf16 weights (torch autocast semantics, on any x86-64): the input is rounded to bf16 once, then
 * the weights are widened to f32 in panels of PANEL rows and each panel is one sgemm with f32
 * accumulation. Widening costs O(N*K) against the product's O(M*N*K), so it is noise for M >= 64. */
#include "backend/cpu/cpu.h"
#include "common/check.h"

#include <cblas.h>
#include <string.h>

enum { PANEL = 512 };

static void fill_bias(float *out, const float *bias, int M, int N, int ldo) {
    #pragma omp parallel for schedule(static)
    for (int m = 0; m < M; m++) {
        if (bias) memcpy(out + (size_t)m * ldo, bias, (size_t)N * sizeof(float));
        else memset(out + (size_t)m * ldo, 0, (size_t)N * sizeof(float));
    }
}

CPU_HOT static void round_to_bf16(float *dst, const float *src, size_t n) {
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) dst[i] = ws_bf16_to_f32(ws_f32_to_bf16(src[i]));
}

CPU_HOT static void widen_bf16(float *dst, const uint16_t *src, size_t n) {
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) dst[i] = ws_bf16_to_f32(src[i]);
}

void cpu_matmul(ws_backend *be, float *out, const float *in, const void *w, ws_dtype wdt,
                const float *bias, int M, int N, int K) {
    if (wdt == WS_DTYPE_F32) {
        fill_bias(out, bias, M, N, N);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, in, K, w, K, 1.0f, out, N);
        return;
    }
    WS_ASSERT(wdt == WS_DTYPE_BF16);
    size_t in_elems = (size_t)M * K, panel = (size_t)(N < PANEL ? N : PANEL) * K;
    float *xr = cpu_scratch(be, (in_elems + panel) * sizeof(float));
    WS_ASSERT(xr != NULL);
    float *wp = xr + in_elems;
    round_to_bf16(xr, in, in_elems);
    for (int n0 = 0; n0 < N; n0 += PANEL) {
        int nb = N - n0 < PANEL ? N - n0 : PANEL;
        widen_bf16(wp, (const uint16_t *)w + (size_t)n0 * K, (size_t)nb * K);
        fill_bias(out + n0, bias ? bias + n0 : NULL, M, nb, N);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, nb, K, 1.0f, xr, K, wp, K, 1.0f,
                    out + n0, N);
    }
}
