/* Helpers shared by the GPU tests: skip without a device, random host arrays, copies to and from
 * a backend, and error reports (max abs error, max abs error / max |ref|, min cosine per row). */
#ifndef WEBSSL_TESTS_GPU_COMMON_H
#define WEBSSL_TESTS_GPU_COMMON_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "backend/backend.h"
#include "backend/cuda/cuda_backend.h"
#include "common/error.h"

/* ctest SKIP_RETURN_CODE of every GPU test (tests/gpu/CMakeLists.txt). */
enum { GPU_TEST_SKIP = 77 };

/* Exit with the skip code, saying why, when no CUDA device is visible. */
static inline void gpu_skip_without_device(const char *test) {
    if (backend_device_count("cuda") <= 0) {
        printf("SKIP %s: no CUDA device visible (this machine has no GPU or no driver); the CUDA "
               "code was compiled but not run\n", test);
        exit(GPU_TEST_SKIP);
    }
}

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

/* A backend buffer holding a copy of host x[n] (n floats). */
static inline float *gpu_put(ws_backend *be, const float *x, size_t n) {
    float *d = be->ops->alloc(be, n * sizeof(float));
    if (d && x) be->ops->upload(be, d, x, n * sizeof(float));
    return d;
}

static inline float *gpu_get(ws_backend *be, const float *d, size_t n) {
    float *x = malloc(n * sizeof(float));
    be->ops->download(be, x, d, n * sizeof(float));
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
