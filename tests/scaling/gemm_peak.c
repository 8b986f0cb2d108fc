/* Achievable f32 GEMM rate of this machine: OpenBLAS sgemm on square matrices, the fastest of 3
 * rounds per size. It is the CPU "peak" the scaling study divides by for MFU
 * (launch/scaling-study --peak-gflops) and the cost model's calibration on CPUs (docs/scaling.md).
 *   gemm_peak [threads]      prints CSV: threads,n,seconds,gflops */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 0;
    if (argc > 2 || (argc > 1 && threads < 1)) {
        fprintf(stderr, "usage: gemm_peak [threads >= 1]\n");
        return 1;
    }
    if (threads > 0) openblas_set_num_threads(threads);
    printf("threads,n,seconds,gflops\n");
    for (int n = 512; n <= 2048; n *= 2) {
        size_t nn = (size_t)n * n;
        float *a = malloc(nn * sizeof *a), *b = malloc(nn * sizeof *b), *c = malloc(nn * sizeof *c);
        if (!a || !b || !c) {
            fprintf(stderr, "gemm_peak: out of memory at n = %d\n", n);
            return 1;
        }
        for (size_t i = 0; i < nn; i++) {
            a[i] = (float)(i % 7) * 1e-3f;
            b[i] = (float)(i % 5) * 1e-3f;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        double best = 0;
        for (int round = 0; round < 3; round++) {
            double t0 = now_seconds();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
            double dt = now_seconds() - t0;
            best = round == 0 || dt < best ? dt : best;
        }
        printf("%d,%d,%.6f,%.1f\n", openblas_get_num_threads(), n, best, 2.0 * n * nn / best / 1e9);
        free(a); free(b); free(c);
    }
    return 0;
}
