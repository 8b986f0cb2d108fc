/* CPU GEMM: the matmul op hands the whole call (dtypes, bias, epilogue) to the path gemm_path.c
 * chose for the weights dtype. This file holds the OpenBLAS paths: out[M,N] = epi(in[M,K] .
 * w[N,K]^T + bias) with sgemm, in one parallel region per call (the input's conversion, the
 * product and the epilogue: GELU, the store as bf16). A bf16 input is widened to f32 (exact); with
 * f32 weights the product is in the weights' dtype, as on CUDA (the model never asks for it).
 * Threading: OpenBLAS runs single-threaded (backend_cpu.c) and the OpenMP threads split the output
 * columns, one sgemm per thread on its own slice of w. One thread pool for the whole forward pass:
 * a second pool (OpenBLAS's) spinning between GEMMs would steal the cores from the OpenMP ops.
 * f32 weights: bias pre-filled into `out`, then sgemm with beta = 1.
 * bf16 weights (torch autocast semantics, on any x86-64): the input is rounded to bf16 once (a
 * vectorised worksharing loop; a bf16 input is only widened), then each thread widens its slice
 * of the weights to f32 in its own scratch buffer and calls sgemm on it. The slice is widened whole when it fits in PANEL_BYTES, else in
 * panels of that size: each sgemm call packs the whole input again, so small panels (256 rows:
 * 0.82x to 0.89x of f32 on the dino300m GEMMs, tests/bench/bench_gemm) pay that packing many
 * times. Widening costs O(N*K) against the product's O(M*N*K).
 * The epilogue runs on each thread's own columns right after its sgemm: no second region. */
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

/* The f32 input the sgemm reads: in itself, or bf16 input widened (exact: for bf16 weights that is
 * already the rounded input), or f32 input rounded for bf16 weights; into x (M*K floats). */
static void gemm_input(float *x, const cpu_gemm_call *g, int bf16w) {
    const size_t n = (size_t)g->M * g->K;
    if (g->idt == WS_DTYPE_BF16) cpu_widen(x, g->in, n);
    else if (bf16w) cpu_round_bf16(x, g->in, n);
}

/* Both OpenBLAS paths, one parallel region: the input converted (worksharing loop, then a
 * barrier), each thread's columns multiplied (bf16 weights widened per panel into the thread's
 * scratch), then the epilogue on the thread's own columns. */
static int openblas_gemm(ws_backend *be, const cpu_gemm_call *g, int bf16w, const char *path) {
    const int M = g->M, N = g->N, K = g->K;
    if (g->epi == WS_EPILOGUE_SWIGLU)   /* cpu_fuses_swiglu says 0 here: the model never asks */
        return ws_errorf(WS_ERR_UNSUPPORTED, "cpu matmul (%s, M=%d N=%d K=%d): no SwiGLU epilogue on this "
                         "path (the swiglu op runs apart)", path, M, N, K);
    const size_t in_elems = g->idt == WS_DTYPE_BF16 || bf16w ? (size_t)M * K : 0;
    const size_t out_elems = g->odt == WS_DTYPE_BF16 ? (size_t)M * N : 0;
    float *io = NULL;
    if (in_elems + out_elems) {
        const size_t bytes = (in_elems + out_elems) * sizeof(float);
        if (!(io = cpu_io_scratch(be, bytes)))
            return ws_errorf(WS_ERR_NOMEM, "cpu matmul (%s, M=%d N=%d K=%d, in %s, out %s): cannot allocate "
                             "%zu bytes for f32 copies", path, M, N, K, ws_dtype_name(g->idt),
                             ws_dtype_name(g->odt), bytes);
    }
    const float *x = in_elems ? io : g->in;
    float *acc = out_elems ? io + in_elems : g->out;
    size_t panel_rows = PANEL_BYTES / ((size_t)K * sizeof(float));
    if (panel_rows < ALIGN_COLS) panel_rows = ALIGN_COLS;
    int failed = bf16w ? cpu_thread_slots(be) : WS_OK;
    if (failed != WS_OK) return failed;
    #pragma omp parallel reduction(|| : failed)
    {
        if (in_elems) gemm_input(io, g, bf16w);
        int c0, c1;
        thread_cols(N, &c0, &c1);
        if (!bf16w && c1 > c0)
            gemm_cols(acc + c0, x, (const float *)g->w + (size_t)c0 * K, g->bias ? g->bias + c0 : NULL, M,
                      c1 - c0, K, N);
        const int rows = (size_t)(c1 - c0) < panel_rows ? c1 - c0 : (int)panel_rows;
        float *panel = bf16w && c1 > c0 ? cpu_thread_scratch(be, (size_t)rows * K * sizeof(float)) : NULL;
        failed = bf16w && c1 > c0 && !panel;
        for (int n0 = c0; n0 < c1 && panel; n0 += rows) {
            const int nb = c1 - n0 < rows ? c1 - n0 : rows;
            widen_bf16(panel, (const uint16_t *)g->w + (size_t)n0 * K, (size_t)nb * K);
            gemm_cols(acc + n0, x, panel, g->bias ? g->bias + n0 : NULL, M, nb, K, N);
        }
        if (!failed) cpu_epilogue(g->out, g->odt, acc, g->epi, 0, M, c0, c1, N);
    }
    if (failed)
        return ws_errorf(WS_ERR_NOMEM, "cpu matmul (%s, M=%d N=%d K=%d): cannot allocate a thread's "
                         "%zu-row panel of widened weights", path, M, N, K, panel_rows);
    return WS_OK;
}

int cpu_gemm_openblas_f32(ws_backend *be, const cpu_gemm_call *g) { return openblas_gemm(be, g, 0, "openblas f32"); }

int cpu_gemm_openblas_bf16(ws_backend *be, const cpu_gemm_call *g) {
    return openblas_gemm(be, g, 1, "openblas bf16");
}

int cpu_matmul(ws_backend *be, void *out, ws_dtype odt, const void *in, ws_dtype idt, const void *w,
               ws_dtype wdt, const float *bias, ws_epilogue epi, int M, int N, int K) {
    const cpu_state *st = be->impl;
    if ((wdt != WS_DTYPE_F32 && wdt != WS_DTYPE_BF16) || (idt != WS_DTYPE_F32 && idt != WS_DTYPE_BF16) ||
        (odt != WS_DTYPE_F32 && odt != WS_DTYPE_BF16))
        return ws_errorf(WS_ERR_ARG, "cpu matmul (M=%d N=%d K=%d): dtypes in %s, weights %s, out %s "
                         "(expected fp32 or bf16)", M, N, K, ws_dtype_name(idt), ws_dtype_name(wdt),
                         ws_dtype_name(odt));
    const cpu_gemm_call g = {.out = out, .odt = odt, .idt = idt, .epi = epi, .in = in, .w = w, .bias = bias,
                             .M = M, .N = N, .K = K};
    return st->gemm[wdt == WS_DTYPE_BF16](be, &g);
}
