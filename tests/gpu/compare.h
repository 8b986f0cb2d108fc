/* Random test inputs and error reports shared by the tests that compare a kernel with its CPU
 * twin (tests/gpu on a device, tests/emu on the kernel emulator): fixed-seed uniform values, and
 * per-tensor max abs error, max abs error / max |ref| and min cosine per row. No CUDA needed. */
#ifndef WEBSSL_TESTS_GPU_COMPARE_H
#define WEBSSL_TESTS_GPU_COMPARE_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* n uniform values in [-scale, scale) from a fixed-seed xorshift generator. */
static inline float *gpu_random(size_t n, float scale, uint64_t *seed) {
    float *x = malloc(n * sizeof(float));
    for (size_t i = 0; x && i < n; i++) {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        x[i] = scale * (2.0f * (float)((*seed >> 40) & 0xffffff) / 16777216.0f - 1.0f);
    }
    return x;
}

typedef struct {
    double max_abs, rel, min_cos;
} gpu_diff;

/* Compare got with ref as `rows` rows of n/rows values; prints one line named `what`. */
static inline gpu_diff gpu_compare(const char *what, const float *ref, const float *got, size_t n, size_t rows) {
    gpu_diff d = {0.0, 0.0, 1.0};
    double max_ref = 0.0;
    const size_t cols = n / rows;
    for (size_t r = 0; r < rows; r++) {
        double dot = 0.0, nr = 0.0, ng = 0.0;
        for (size_t c = 0; c < cols; c++) {
            const double a = ref[r * cols + c], b = got[r * cols + c];
            d.max_abs = fmax(d.max_abs, fabs(a - b));
            if (isnan(b)) d.max_abs = INFINITY;
            max_ref = fmax(max_ref, fabs(a));
            dot += a * b;
            nr += a * a;
            ng += b * b;
        }
        const double cs = nr > 0 && ng > 0 ? dot / sqrt(nr * ng) : (nr == ng ? 1.0 : 0.0);
        d.min_cos = fmin(d.min_cos, cs);
    }
    d.rel = max_ref > 0 ? d.max_abs / max_ref : d.max_abs;
    printf("%-40s max abs err %.3e  rel %.3e  min cosine %.6f\n", what, d.max_abs, d.rel, d.min_cos);
    return d;
}

#endif
