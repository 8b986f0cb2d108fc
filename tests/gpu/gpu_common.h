/* Helpers shared by the GPU tests: skip without a device and copies to and from a backend;
 * random inputs and error reports come from compare.h. */
#ifndef WEBSSL_TESTS_GPU_COMMON_H
#define WEBSSL_TESTS_GPU_COMMON_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "backend/backend.h"
#include "backend/cuda/cuda_backend.h"
#include "common/dtype.h"
#include "common/error.h"
#include "compare.h"

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

/* A backend buffer holding host x[n] stored as dtype dt (bf16: rounded; NULL x: uninitialised). */
static inline void *gpu_put_dt(ws_backend *be, const float *x, size_t n, ws_dtype dt) {
    void *d = be->ops->alloc(be, n * ws_dtype_size(dt));
    if (d && x) {
        void *h = malloc(n * ws_dtype_size(dt));
        ws_convert_from_f32(h, dt, x, n);
        be->ops->upload(be, d, h, n * ws_dtype_size(dt));
        free(h);
    }
    return d;
}

/* The n values of dtype dt in backend buffer d, as host floats. */
static inline float *gpu_get_dt(ws_backend *be, const void *d, size_t n, ws_dtype dt) {
    void *h = malloc(n * ws_dtype_size(dt));
    float *x = malloc(n * sizeof(float));
    be->ops->download(be, h, d, n * ws_dtype_size(dt));
    ws_convert_to_f32(x, h, dt, n);
    free(h);
    return x;
}

#endif
