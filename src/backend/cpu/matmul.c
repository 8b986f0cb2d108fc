/* CPU GEMM: the matmul op widens bf16 inputs to f32, runs the path gemm_path.c chose for the
 * weights dtype (f32 in, f32 out) and applies the epilogue (GELU, the store as bf16) after it.
 * A path that multiplies bf16 natively (oneDNN's) takes bf16 inputs with bf16 weights unwidened.
 * A bf16 input with f32 weights runs the f32 path on the widened input (the product is in the
 * weights' dtype, as on CUDA; the model never asks for it). This file also holds the OpenBLAS
 * paths: out[M,N] = in[M,K] . w[N,K]^T + bias with sgemm.
 * Threading: OpenBLAS runs single-threaded (backend_cpu.c) and the OpenMP threads split the output
 * columns, one sgemm per thread on its own slice of w. One thread pool for the whole forward pass:
 * a second pool (OpenBLAS's) spinning between GEMMs would steal the cores from the OpenMP ops.
 * f32 weights: bias pre-filled into `out`, then sgemm with beta = 1.
 * bf16 weights (torch autocast semantics, on any x86-64): the input is rounded to bf16 once (a
 * vectorised pass), then each thread widens its slice of the weights to f32 in its own scratch
 * buffer and calls sgemm on it. The slice is widened whole when it fits in PANEL_BYTES, else in
 * panels of that size: each sgemm call packs the whole input again, so small panels (256 rows:
 * 0.82x to 0.89x of f32 on the dino300m GEMMs, tests/bench/bench_gemm) pay that packing many
 * times. Widening costs O(N*K) against the product's O(M*N*K). */
#include "backend/cpu/cpu.h"
#include "common/error.h"

#include <cblas.h>
#include <omp.h>
#include <string.h>

/* Most bytes of widened weights per thread (at K = 4096, panels of 2048 rows). */
#define PANEL_BYTES ((size_t)32 << 20)
enum { ALIGN_COLS = 16 };

CPU_HOT static void widen_bf16(float *dst, const uint16_t *src, size_t n) {
    #pragma omp simd
    for (size_t i = 0; i < n; i++) dst[i] = ws_bf16_to_f32(src[i]);
}

/* out[:, n0:n0+nb] = in . w[n0:n0+nb]^T + bias[n0:n0+nb], f32 weights `w` (already offset). */
static void gemm_cols(float *out, const float *in, const float *w, const float *bias, int M, int nb,
                      int K, int ldo) {
    for (int m = 0; m < M; m++) {
        if (bias) memcpy(out + (size_t)m * ldo, bias, (size_t)nb * sizeof(float));
        else memset(out + (size_t)m * ldo, 0, (size_t)nb * sizeof(float));
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, nb, K, 1.0f, in, K, w, K, 1.0f, out, ldo);
}

/* The OpenMP thread's columns [c0, c1) of N, in multiples of ALIGN_COLS (call inside a region). */
static void thread_cols(int N, int *c0, int *c1) {
    const int T = omp_get_num_threads(), t = omp_get_thread_num();
    const int units = (N + ALIGN_COLS - 1) / ALIGN_COLS;
    const int u0 = units * t / T, u1 = units * (t + 1) / T;
    *c0 = u0 * ALIGN_COLS;
    *c1 = u1 * ALIGN_COLS < N ? u1 * ALIGN_COLS : N;
}

int cpu_gemm_openblas_f32(ws_backend *be, float *out, const float *in, const void *w,
                          const float *bias, int M, int N, int K) {
    #pragma omp parallel
    {
        int c0, c1;
        thread_cols(N, &c0, &c1);
        if (c1 > c0)
            gemm_cols(out + c0, in, (const float *)w + (size_t)c0 * K, bias ? bias + c0 : NULL, M,
                      c1 - c0, K, N);
    }
    return WS_OK;
}

int cpu_gemm_openblas_bf16(ws_backend *be, float *out, const float *in, const void *w,
                           const float *bias, int M, int N, int K) {
    const size_t in_bytes = (size_t)M * K * sizeof(float);
    float *x = cpu_scratch(be, in_bytes);
    if (!x)
        return ws_errorf(WS_ERR_NOMEM, "cpu matmul (openblas bf16, M=%d N=%d K=%d): cannot allocate "
                         "the %zu bytes of the rounded input", M, N, K, in_bytes);
    cpu_round_bf16(x, in, (size_t)M * K);
    size_t panel_rows = PANEL_BYTES / ((size_t)K * sizeof(float));
    if (panel_rows < ALIGN_COLS) panel_rows = ALIGN_COLS;
    int failed = cpu_thread_slots(be);
    if (failed != WS_OK) return failed;
    #pragma omp parallel reduction(|| : failed)
    {
        int c0, c1;
        thread_cols(N, &c0, &c1);
        const int rows = (size_t)(c1 - c0) < panel_rows ? c1 - c0 : (int)panel_rows;
        float *panel = c1 > c0 ? cpu_thread_scratch(be, (size_t)rows * K * sizeof(float)) : NULL;
        failed = c1 > c0 && !panel;
        for (int n0 = c0; n0 < c1 && panel; n0 += rows) {
            const int nb = c1 - n0 < rows ? c1 - n0 : rows;
            widen_bf16(panel, (const uint16_t *)w + (size_t)n0 * K, (size_t)nb * K);
            gemm_cols(out + n0, x, panel, bias ? bias + n0 : NULL, M, nb, K, N);
        }
    }
    if (failed)
        return ws_errorf(WS_ERR_NOMEM, "cpu matmul (openblas bf16, M=%d N=%d K=%d): cannot allocate "
                         "a thread's %zu-row panel of widened weights", M, N, K, panel_rows);
    return WS_OK;
}

int cpu_matmul(ws_backend *be, void *out, ws_dtype odt, const void *in, ws_dtype idt, const void *w,
               ws_dtype wdt, const float *bias, ws_epilogue epi, int M, int N, int K) {
    const cpu_state *st = be->impl;
    if ((wdt != WS_DTYPE_F32 && wdt != WS_DTYPE_BF16) || (idt != WS_DTYPE_F32 && idt != WS_DTYPE_BF16) ||
        (odt != WS_DTYPE_F32 && odt != WS_DTYPE_BF16))
        return ws_errorf(WS_ERR_ARG, "cpu matmul (M=%d N=%d K=%d): dtypes in %s, weights %s, out %s "
                         "(expected fp32 or bf16)", M, N, K, ws_dtype_name(idt), ws_dtype_name(wdt),
                         ws_dtype_name(odt));
    /* bf16 input on a path that takes it as it is: widening it here only for the path to round
     * it back would cost two passes over it (and two parallel regions) */
    const int bf16_in = idt == WS_DTYPE_BF16 && wdt == WS_DTYPE_BF16 && st->gemm_bf16_in;
    const size_t in_elems = idt == WS_DTYPE_BF16 && !bf16_in ? (size_t)M * K : 0;
    const size_t out_elems = odt == WS_DTYPE_BF16 ? (size_t)M * N : 0;
    float *io = NULL;
    if (in_elems + out_elems) {
        const size_t bytes = (in_elems + out_elems) * sizeof(float);
        if (!(io = cpu_io_scratch(be, bytes)))
            return ws_errorf(WS_ERR_NOMEM, "cpu matmul (M=%d N=%d K=%d, in %s, out %s): cannot allocate "
                             "%zu bytes for f32 copies", M, N, K, ws_dtype_name(idt), ws_dtype_name(odt),
                             bytes);
    }
    const float *x = in;
    if (in_elems) {
        cpu_widen(io, in, in_elems);
        x = io;
    }
    float *acc = out_elems ? io + in_elems : out;
    int rc = bf16_in ? st->gemm_bf16_in(be, acc, in, w, bias, M, N, K)
                     : st->gemm[wdt == WS_DTYPE_BF16](be, acc, x, w, bias, M, N, K);
    if (rc) return rc;
    if (out_elems || epi != WS_EPILOGUE_NONE) cpu_epilogue(out, odt, acc, epi, (size_t)M * N);
    return WS_OK;
}
