/* The CPU backend's matmul on the linear layers of one ViT block, f32 weights against bf16
 * weights, interleaved GEMM by GEMM so that load from other processes hits both alike. Prints
 * the median GFLOP/s per GEMM and dtype and the bf16 / f32 ratio of the block's total time, in
 * wall-clock time and in the process's CPU time (less moved by other processes on a shared machine:
 * run with OMP_WAIT_POLICY=passive so that threads waiting at a barrier sleep instead of spinning).
 * The GEMM path is the default one of each dtype (WEBSSL_GEMM forces one, as in the engine).
 *   bench_gemm [M tokens] [C] [H] [threads] [rounds]
 * defaults: the dino300m block at batch 8 (M = 8 x 257, C = 1024, H = 2736), 2 threads, 5 rounds. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "backend/backend.h"
#include "common/dtype.h"
#include "common/error.h"

enum { NGEMM = 4, MAX_ROUNDS = 99 };

static double now_seconds(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int main(int argc, char **argv) {
    backend_cpu_blas_fix(argv);   /* OpenBLAS's kernels as webssl-dist runs them (backend/cpu/blas_core.c) */
    const int M = argc > 1 ? atoi(argv[1]) : 8 * 257, C = argc > 2 ? atoi(argv[2]) : 1024;
    const int H = argc > 3 ? atoi(argv[3]) : 2736, threads = argc > 4 ? atoi(argv[4]) : 2;
    const int rounds = argc > 5 ? atoi(argv[5]) : 5;
    if (argc > 6 || M < 1 || C < 1 || H < 1 || threads < 1 || rounds < 1 || rounds > MAX_ROUNDS) {
        fprintf(stderr, "usage: bench_gemm [M >= 1] [C >= 1] [H >= 1] [threads >= 1] [rounds 1..%d]\n",
                MAX_ROUNDS);
        return 1;
    }
    const char *name[NGEMM] = {"qkv", "proj", "w12", "w3"};
    const int shape[NGEMM][2] = {{3 * C, C}, {C, C}, {2 * H, C}, {C, H}};   /* N, K */
    ws_backend *be = NULL;
    if (backend_create("cpu", threads, 0, &be) != WS_OK) {
        fprintf(stderr, "bench_gemm: %s\n", ws_error_message());
        return 1;
    }
    char desc[2][320];
    for (int d = 0; d < 2; d++)
        if (be->ops->gemm_select(be, d ? WS_DTYPE_BF16 : WS_DTYPE_F32, WS_GEMM_MODEL, desc[d], sizeof desc[d])) {
            fprintf(stderr, "bench_gemm: %s\n", ws_error_message());
            return 1;
        }
    size_t maxk = (size_t)(C > H ? C : H), maxn = (size_t)(3 * C > 2 * H ? 3 * C : 2 * H);
    float *in = malloc(sizeof(float) * M * maxk), *out = malloc(sizeof(float) * M * maxn);
    float *bias = malloc(sizeof(float) * maxn);
    void *w[NGEMM][2];
    if (!in || !out || !bias) return 1;
    for (size_t i = 0; i < (size_t)M * maxk; i++) in[i] = (float)(i % 13) * 0.01f - 0.06f;
    for (size_t i = 0; i < maxn; i++) bias[i] = 0.01f;
    for (int g = 0; g < NGEMM; g++) {
        size_t nk = (size_t)shape[g][0] * shape[g][1];
        float *wf = malloc(nk * sizeof *wf);
        if (!wf) return 1;
        for (size_t i = 0; i < nk; i++) wf[i] = (float)(i % 11) * 0.002f - 0.01f;
        for (int d = 0; d < 2; d++) {
            ws_dtype dt = d ? WS_DTYPE_BF16 : WS_DTYPE_F32;
            w[g][d] = be->ops->alloc(be, nk * ws_dtype_size(dt));
            if (!w[g][d]) return 1;
            ws_convert_from_f32(w[g][d], dt, wf, nk);
        }
        free(wf);
    }
    printf("M %d  C %d  H %d  threads %d  rounds %d\nf32:  %s\nbf16: %s\n", M, C, H, threads,
           rounds, desc[0], desc[1]);
    static double t[NGEMM][2][MAX_ROUNDS], cpu[NGEMM][2][MAX_ROUNDS];
    for (int r = -1; r < rounds; r++)   /* round -1: warm-up (scratch, caches) */
        for (int g = 0; g < NGEMM; g++)
            for (int d = 0; d < 2; d++) {
                double t0 = now_seconds(CLOCK_MONOTONIC), c0 = now_seconds(CLOCK_PROCESS_CPUTIME_ID);
                if (be->ops->matmul(be, out, WS_DTYPE_F32, in, WS_DTYPE_F32, w[g][d],
                                    d ? WS_DTYPE_BF16 : WS_DTYPE_F32, bias, WS_EPILOGUE_NONE, M, shape[g][0],
                                    shape[g][1]) != WS_OK) {
                    fprintf(stderr, "bench_gemm: %s\n", ws_error_message());
                    return 1;
                }
                if (r < 0) continue;
                t[g][d][r] = now_seconds(CLOCK_MONOTONIC) - t0;
                cpu[g][d][r] = now_seconds(CLOCK_PROCESS_CPUTIME_ID) - c0;
            }
    double total[2] = {0, 0}, total_cpu[2] = {0, 0};
    printf("| GEMM | N x K | f32 GFLOP/s | bf16 GFLOP/s | bf16 / f32 | in CPU time |\n"
           "|---|---|---|---|---|---|\n");
    for (int g = 0; g < NGEMM; g++) {
        double flop = 2.0 * M * shape[g][0] * shape[g][1], s[2], c[2];
        for (int d = 0; d < 2; d++) {
            total[d] += s[d] = median(t[g][d], rounds);
            total_cpu[d] += c[d] = median(cpu[g][d], rounds);
        }
        printf("| %s | %d x %d | %.1f | %.1f | %.3f | %.3f |\n", name[g], shape[g][0], shape[g][1],
               flop / s[0] * 1e-9, flop / s[1] * 1e-9, s[0] / s[1], c[0] / c[1]);
    }
    printf("block: f32 %.3f s, bf16 %.3f s, bf16 / f32 speed %.3f; in CPU time %.3f\n", total[0],
           total[1], total[0] / total[1], total_cpu[0] / total_cpu[1]);
    for (int g = 0; g < NGEMM; g++)
        for (int d = 0; d < 2; d++) be->ops->free(be, w[g][d]);
    free(in); free(out); free(bias);
    backend_free(be);
    return 0;
}
