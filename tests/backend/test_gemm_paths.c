/* Every CPU GEMM path this machine and build can run (WEBSSL_GEMM = openblas, onednn; f32 and
 * bf16 weights), on small odd shapes, against a double-precision product of the same operands
 * (for bf16: the inputs and weights rounded to bf16 first, as torch.autocast does). Prints the max
 * abs and relative error per case; fails past 1e-5 of max |ref|. A path the CPU or build cannot
 * run must be refused by gemm_select with an error naming WEBSSL_GEMM (and is then skipped).
 * The SwiGLU epilogue on the paths that fuse it, against the same reference, and refused elsewhere.
 * Also: an unknown WEBSSL_GEMM value is an error, freed weights never leave a stale copy, a model's
 * weights reordered by oneDNN are held once (the plain pages given back), and a
 * large oneDNN allocation that fails (the reordered copy of the weights) comes back as
 * WS_ERR_NOMEM from the matmul (posix_memalign, which oneDNN allocates with, is wrapped here so
 * that allocations from a size on can be made to fail; oneDNN itself does not survive every
 * small one failing), and OpenBLAS kernel sets without the AVX2 the CPU has are replaced
 * (blas_core_choice). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "common/dtype.h"
#include "common/error.h"
#include "test_main.h"

static const char *const paths[] = {"openblas", "onednn"};
static const int shapes[][3] = {{1, 1, 1}, {5, 3, 7}, {37, 40, 33}, {257, 48, 64}, {19, 130, 300}};

/* posix_memalign of the whole process (oneDNN's allocations go through it): the real one, or
 * ENOMEM for sizes of at least fail_aligned_from bytes (0: none fail). */
static size_t fail_aligned_from;
static int failed_aligned_allocs;
int posix_memalign(void **p, size_t align, size_t size) {
    static int (*real)(void **, size_t, size_t);
    if (fail_aligned_from && size >= fail_aligned_from) {
        __atomic_add_fetch(&failed_aligned_allocs, 1, __ATOMIC_RELAXED);
        return ENOMEM;
    }
    if (!real) *(void **)&real = dlsym(RTLD_NEXT, "posix_memalign");
    return real(p, align, size);
}

static float frand(unsigned *s) {
    *s = *s * 1664525u + 1013904223u;
    return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

/* A CPU backend on GEMM path `path` (WEBSSL_GEMM) with `threads` threads, selected for weights of
 * dtype wdt and use `use` (its description in desc); NULL, the backend freed and gemm_select's
 * status in *rc, when the path is refused. */
static ws_backend *backend_on(const char *path, int threads, ws_dtype wdt, ws_gemm_use use, char *desc,
                              size_t n, int *rc) {
    ck_assert_int_eq(setenv("WEBSSL_GEMM", path, 1), 0);
    ws_backend *be = NULL;
    ck_assert_int_eq(backend_create("cpu", threads, 0, &be), WS_OK);
    *rc = be->ops->gemm_select(be, wdt, use, desc, n);
    if (*rc == WS_OK) return be;
    backend_free(be);
    return NULL;
}

/* sum_k x[k] * y[k] in double; with bf16 both operands rounded to bf16 first (torch.autocast). */
static double ref_dot(const float *x, const float *y, int K, int bf16) {
    double sum = 0;
    for (int k = 0; k < K; k++)
        sum += bf16 ? (double)ws_bf16_to_f32(ws_f32_to_bf16(x[k])) * ws_bf16_to_f32(ws_f32_to_bf16(y[k]))
                    : (double)x[k] * y[k];
    return sum;
}

/* 1 when the path ran (and matched), 0 when gemm_select refused it as unsupported. */
static int check_path(const char *path, ws_dtype wdt) {
    char desc[320];
    int rc;
    ws_backend *be = backend_on(path, 2, wdt, WS_GEMM_MODEL, desc, sizeof desc, &rc);
    if (!be) {
        printf("gemm %-8s %s: skipped: %s\n", path, ws_dtype_name(wdt), ws_error_message());
        ck_assert_int_eq(rc, WS_ERR_UNSUPPORTED);
        ck_assert_ptr_nonnull(strstr(ws_error_message(), "WEBSSL_GEMM="));
        return 0;
    }
    const int bf16 = wdt == WS_DTYPE_BF16;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        unsigned seed = 12345u + (unsigned)s;
        float *in = malloc(sizeof(float) * M * K), *bias = malloc(sizeof(float) * N);
        float *out = malloc(sizeof(float) * M * N), *wf = malloc(sizeof(float) * N * K);
        void *w = be->ops->alloc(be, (size_t)N * K * ws_dtype_size(wdt));
        ck_assert(in && bias && out && wf && w);
        for (int i = 0; i < M * K; i++) in[i] = frand(&seed);
        for (int i = 0; i < N; i++) bias[i] = frand(&seed);
        for (int i = 0; i < N * K; i++) wf[i] = frand(&seed);
        ws_convert_from_f32(w, wdt, wf, (size_t)N * K);
        for (int with_bias = 0; with_bias < 2; with_bias++) {
            const float *b = with_bias ? bias : NULL;
            ck_assert_int_eq(be->ops->matmul(be, out, WS_DTYPE_F32, in, WS_DTYPE_F32, w, wdt, b,
                                             WS_EPILOGUE_NONE, M, N, K), WS_OK);
            double err = 0, scale = 0;
            for (int m = 0; m < M; m++)
                for (int n = 0; n < N; n++) {
                    const double ref = (b ? b[n] : 0.0) + ref_dot(in + (size_t)m * K, wf + (size_t)n * K, K, bf16);
                    err = fmax(err, fabs(ref - out[(size_t)m * N + n]));
                    scale = fmax(scale, fabs(ref));
                }
            printf("gemm %-8s %s M=%d N=%d K=%d bias=%d: max abs err %.3e  rel %.3e  (%s)\n", path,
                   ws_dtype_name(wdt), M, N, K, with_bias, err, err / scale, desc);
            ck_assert_msg(err <= 1e-5 * scale, "%s %s: error %g past 1e-5 of %g", path,
                          ws_dtype_name(wdt), err, scale);
        }
        be->ops->free(be, w);
        free(in); free(bias); free(out); free(wf);
    }
    backend_free(be);
    return 1;
}

START_TEST(every_path_the_machine_runs) {
    int ran = 0;
    for (size_t p = 0; p < sizeof paths / sizeof paths[0]; p++) {
        ran += check_path(paths[p], WS_DTYPE_F32);
        ran += check_path(paths[p], WS_DTYPE_BF16);
    }
    ck_assert_int_ge(ran, 2);   /* OpenBLAS runs everywhere, f32 and widened bf16 */
    unsetenv("WEBSSL_GEMM");
}
END_TEST

START_TEST(unknown_path_is_an_error) {
    char desc[320];
    int rc;
    ck_assert_ptr_null(backend_on("mkl", 1, WS_DTYPE_F32, WS_GEMM_MODEL, desc, sizeof desc, &rc));
    ck_assert_int_eq(rc, WS_ERR_ARG);
    printf("unknown path: %s\n", ws_error_message());
    ck_assert_ptr_nonnull(strstr(ws_error_message(), "WEBSSL_GEMM='mkl'"));
    unsetenv("WEBSSL_GEMM");
}
END_TEST

/* Weights freed and new ones allocated (often at the same address): a path that keeps a
 * reordered copy must not use the old one. */
START_TEST(freed_weights_leave_no_stale_copy) {
    for (size_t p = 0; p < sizeof paths / sizeof paths[0]; p++) {
        char desc[320];
        int rc;
        ws_backend *be = backend_on(paths[p], 1, WS_DTYPE_F32, WS_GEMM_MODEL, desc, sizeof desc, &rc);
        if (!be) continue;
        enum { M = 4, N = 32, K = 16 };
        float in[M * K], out[M * N];
        for (int i = 0; i < M * K; i++) in[i] = 1.0f;
        for (int round = 1; round <= 3; round++) {
            float *w = be->ops->alloc(be, sizeof(float) * N * K);
            ck_assert_ptr_nonnull(w);
            for (int i = 0; i < N * K; i++) w[i] = (float)round;
            ck_assert_int_eq(be->ops->matmul(be, out, WS_DTYPE_F32, in, WS_DTYPE_F32, w, WS_DTYPE_F32, NULL,
                                             WS_EPILOGUE_NONE, M, N, K), WS_OK);
            for (int i = 0; i < M * N; i++) ck_assert_float_eq(out[i], (float)(round * K));
            be->ops->free(be, w);
        }
        backend_free(be);
    }
    unsetenv("WEBSSL_GEMM");
}
END_TEST

/* out[m, n] = sum_k in[m, k] * w[n, k] in double, compared with `out`: the max abs error. */
static double product_err(const float *out, const float *in, const float *w, int M, int N, int K) {
    double err = 0;
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++)
            err = fmax(err, fabs(ref_dot(in + (size_t)m * K, w + (size_t)n * K, K, 0) - out[(size_t)m * N + n]));
    return err;
}

/* The SwiGLU epilogue on every path that says it fuses it (fuses_swiglu), f32 and bf16 weights, with
 * and without bias, odd shapes: out = silu(gate) * linear from a double-precision product (bf16:
 * operands rounded first); fails past 1e-5 of max |ref|. A path that does not fuse refuses the
 * epilogue with WS_ERR_UNSUPPORTED. */
START_TEST(swiglu_epilogue) {
    static const int sw[][3] = {{1, 1, 1}, {5, 3, 7}, {37, 40, 33}, {257, 68, 64}};
    int fused = 0;
    for (size_t p = 0; p < sizeof paths / sizeof paths[0]; p++)
        for (int bf16 = 0; bf16 < 2; bf16++) {
            const ws_dtype wdt = bf16 ? WS_DTYPE_BF16 : WS_DTYPE_F32;
            char desc[320];
            int rc;
            ws_backend *be = backend_on(paths[p], 2, wdt, WS_GEMM_MODEL, desc, sizeof desc, &rc);
            if (!be) continue;
            const int fuses = be->ops->fuses_swiglu(be, wdt);
            for (size_t s = 0; s < sizeof sw / sizeof sw[0]; s++) {
                const int M = sw[s][0], N = sw[s][1], K = sw[s][2];
                unsigned seed = 777u + (unsigned)s;
                float *in = malloc(sizeof(float) * M * K), *bias = malloc(sizeof(float) * 2 * N);
                float *out = malloc(sizeof(float) * M * N), *wf = malloc(sizeof(float) * 2 * N * K);
                void *w = be->ops->alloc(be, (size_t)2 * N * K * ws_dtype_size(wdt));
                ck_assert(in && bias && out && wf && w);
                for (int i = 0; i < M * K; i++) in[i] = frand(&seed);
                for (int i = 0; i < 2 * N; i++) bias[i] = frand(&seed);
                for (int i = 0; i < 2 * N * K; i++) wf[i] = frand(&seed) * 2.0f;
                ws_convert_from_f32(w, wdt, wf, (size_t)2 * N * K);
                for (int with_bias = 0; with_bias < 2; with_bias++) {
                    const float *b = with_bias ? bias : NULL;
                    rc = be->ops->matmul(be, out, WS_DTYPE_F32, in, WS_DTYPE_F32, w, wdt, b, WS_EPILOGUE_SWIGLU,
                                         M, N, K);
                    if (!fuses) {
                        ck_assert_int_eq(rc, WS_ERR_UNSUPPORTED);
                        ck_assert_ptr_nonnull(strstr(ws_error_message(), "SwiGLU"));
                        continue;
                    }
                    ck_assert_int_eq(rc, WS_OK);
                    double err = 0, scale = 0;
                    for (int m = 0; m < M; m++)
                        for (int n = 0; n < N; n++) {
                            double gl[2];   /* the gate's and the linear half's products */
                            for (int half = 0; half < 2; half++) {
                                const int row = half * N + n;
                                gl[half] = (b ? b[row] : 0.0) +
                                           ref_dot(in + (size_t)m * K, wf + (size_t)row * K, K, bf16);
                            }
                            const double ref = gl[0] / (1.0 + exp(-gl[0])) * gl[1];
                            err = fmax(err, fabs(ref - out[(size_t)m * N + n]));
                            scale = fmax(scale, fabs(ref));
                        }
                    printf("swiglu %-8s %s M=%d N=%d K=%d bias=%d: max abs err %.3e  rel %.3e\n", paths[p],
                           ws_dtype_name(wdt), M, N, K, with_bias, err, err / scale);
                    ck_assert_msg(err <= 1e-5 * scale, "%s %s: error %g past 1e-5 of %g", paths[p],
                                  ws_dtype_name(wdt), err, scale);
                }
                be->ops->free(be, w);
                free(in); free(bias); free(out); free(wf);
            }
            printf("swiglu %-8s %s: %s (%s)\n", paths[p], ws_dtype_name(wdt), fuses ? "fused" : "refused", desc);
            fused += fuses;
            backend_free(be);
        }
    if (!fused) printf("swiglu epilogue: no path fuses it on this machine or build (refusals checked)\n");
    unsetenv("WEBSSL_GEMM");
}
END_TEST

/* The oneDNN path holds a model's weights once: after the first matmul reorders them, the pages of
 * the plain copy are given back (they read as zeros), every later call (other M, other layouts)
 * multiplies the reordered copy, the same memory used as another shape without being written again
 * is an error naming both shapes, and an upload brings plain weights back. Data operands keep
 * their plain copy. Skipped where oneDNN is not built or keeps the weights plain (AVX2). */
START_TEST(onednn_model_weights_held_once) {
    enum { N = 256, K = 64, MMAX = 300 };
    static float in[MMAX * K], out[MMAX * N], wf[N * K];
    unsigned seed = 99;
    for (int i = 0; i < MMAX * K; i++) in[i] = frand(&seed);
    for (int i = 0; i < N * K; i++) wf[i] = frand(&seed);
    for (int use = 0; use < 2; use++) {
        char desc[320];
        int rc;
        ws_backend *be = backend_on("onednn", 2, WS_DTYPE_F32, use ? WS_GEMM_DATA : WS_GEMM_MODEL, desc,
                                    sizeof desc, &rc);
        if (!be) {
            printf("onednn weights held once: skipped: %s\n", ws_error_message());
            break;
        }
        float *w = be->ops->alloc(be, sizeof wf);
        ck_assert_ptr_nonnull(w);
        be->ops->upload(be, w, wf, sizeof wf);
        const int Ms[] = {8, 1, 300, 8};
        for (size_t i = 0; i < sizeof Ms / sizeof Ms[0]; i++) {
            ck_assert_int_eq(be->ops->matmul(be, out, WS_DTYPE_F32, in, WS_DTYPE_F32, w, WS_DTYPE_F32, NULL,
                                             WS_EPILOGUE_NONE, Ms[i], N, K), WS_OK);
            const double err = product_err(out, in, wf, Ms[i], N, K);
            printf("onednn %s weights, M=%d: max abs err %.3e\n", use ? "data" : "model", Ms[i], err);
            ck_assert_msg(err <= 1e-4, "M=%d: error %g", Ms[i], err);
        }
        size_t zeros = 0;
        for (int i = 0; i < N * K; i++) zeros += w[i] == 0.0f && wf[i] != 0.0f;
        printf("onednn %s weights: %zu of %d plain values read as zero\n", use ? "data" : "model", zeros, N * K);
        if (use) {
            ck_assert_uint_eq(zeros, 0);
        } else if (zeros) {
            ck_assert_uint_ge(zeros, (size_t)N * K / 2);   /* the whole pages of 64 KiB of weights */
            ck_assert_int_eq(be->ops->matmul(be, out, WS_DTYPE_F32, in, WS_DTYPE_F32, w, WS_DTYPE_F32, NULL,
                                             WS_EPILOGUE_NONE, 8, K, N), WS_ERR_ARG);
            printf("as another shape: %s\n", ws_error_message());
            ck_assert_ptr_nonnull(strstr(ws_error_message(), "[256, 64] f32"));
            ck_assert_ptr_nonnull(strstr(ws_error_message(), "[64, 256] f32"));
            for (int i = 0; i < N * K; i++) wf[i] = -wf[i];
            be->ops->upload(be, w, wf, sizeof wf);
            ck_assert_int_eq(be->ops->matmul(be, out, WS_DTYPE_F32, in, WS_DTYPE_F32, w, WS_DTYPE_F32, NULL,
                                             WS_EPILOGUE_NONE, 8, N, K), WS_OK);
            ck_assert_msg(product_err(out, in, wf, 8, N, K) <= 1e-4, "after an upload");
            for (int i = 0; i < N * K; i++) wf[i] = -wf[i];
        } else {
            printf("onednn model weights: kept plain here (%s)\n", desc);
        }
        be->ops->free(be, w);
        backend_free(be);
    }
    unsetenv("WEBSSL_GEMM");
}
END_TEST

/* oneDNN out of memory (its allocations fail while the weights are reordered or the primitive is
 * made): the matmul returns WS_ERR_NOMEM naming oneDNN, the program goes on, and the same call
 * succeeds once memory is back. Skipped where the build has no oneDNN, or where oneDNN allocates
 * nothing for this GEMM on this CPU. */
START_TEST(onednn_out_of_memory_is_an_error) {
    char desc[320];
    int rc;
    ws_backend *be = backend_on("onednn", 1, WS_DTYPE_F32, WS_GEMM_MODEL, desc, sizeof desc, &rc);
    if (!be) {
        printf("onednn out of memory: skipped: %s\n", ws_error_message());
        unsetenv("WEBSSL_GEMM");
        return;
    }
    enum { M = 8, N = 512, K = 512 };
    static float in[M * K], out[M * N];
    float *w = be->ops->alloc(be, sizeof(float) * N * K);
    ck_assert_ptr_nonnull(w);
    for (int i = 0; i < M * K; i++) in[i] = 1.0f;
    for (int i = 0; i < N * K; i++) w[i] = 0.5f;
    fail_aligned_from = sizeof(float) * N * K;   /* the weights' size: a reordered copy fails */
    rc = be->ops->matmul(be, out, WS_DTYPE_F32, in, WS_DTYPE_F32, w, WS_DTYPE_F32, NULL, WS_EPILOGUE_NONE, M, N, K);
    fail_aligned_from = 0;
    if (!failed_aligned_allocs) {
        printf("onednn out of memory: skipped: oneDNN copies no weights for this GEMM (%s)\n", desc);
        ck_assert_int_eq(rc, WS_OK);
    } else {
        printf("onednn out of memory (%d allocations refused): %s\n", failed_aligned_allocs, ws_error_message());
        ck_assert_int_eq(rc, WS_ERR_NOMEM);
        ck_assert_ptr_nonnull(strstr(ws_error_message(), "oneDNN"));
        ck_assert_ptr_nonnull(strstr(ws_error_message(), "out of memory"));
        ck_assert_int_eq(be->ops->matmul(be, out, WS_DTYPE_F32, in, WS_DTYPE_F32, w, WS_DTYPE_F32, NULL,
                                         WS_EPILOGUE_NONE, M, N, K), WS_OK);
    }
    for (int i = 0; i < M * N; i++) ck_assert_float_eq(out[i], 0.5f * K);
    be->ops->free(be, w);
    backend_free(be);
    unsetenv("WEBSSL_GEMM");
}
END_TEST

/* OpenBLAS's kernel sets without AVX2 are replaced on a CPU with AVX2 + FMA (by the AVX-512 set
 * where the CPU has AVX-512), the sets with it are kept, and nothing changes on an older CPU
 * (backend/cpu/blas_core.c; tests/backend/test_blas_core.py checks the program on this CPU). */
START_TEST(blas_core_choice) {
    const char *narrow[] = {"Prescott", "Nehalem", "Sandybridge", "Core2", "Barcelona"};
    const char *wide[] = {"Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids", "skylakex"};
    for (size_t i = 0; i < sizeof narrow / sizeof narrow[0]; i++) {
        ck_assert_str_eq(backend_cpu_blas_core_wanted(narrow[i], 1, 0), "Haswell");
        ck_assert_str_eq(backend_cpu_blas_core_wanted(narrow[i], 1, 1), "SkylakeX");
        ck_assert_ptr_null(backend_cpu_blas_core_wanted(narrow[i], 0, 0));
    }
    for (size_t i = 0; i < sizeof wide / sizeof wide[0]; i++) {
        ck_assert_ptr_null(backend_cpu_blas_core_wanted(wide[i], 1, 0));
        ck_assert_ptr_null(backend_cpu_blas_core_wanted(wide[i], 1, 1));
    }
    ck_assert_ptr_null(backend_cpu_blas_core_wanted(NULL, 1, 1));
}
END_TEST

int main(void) {
    Suite *s = suite_create("gemm_paths");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, every_path_the_machine_runs);
    tcase_add_test(tc, unknown_path_is_an_error);
    tcase_add_test(tc, freed_weights_leave_no_stale_copy);
    tcase_add_test(tc, swiglu_epilogue);
    tcase_add_test(tc, onednn_model_weights_held_once);
    tcase_add_test(tc, onednn_out_of_memory_is_an_error);
    tcase_add_test(tc, blas_core_choice);
    suite_add_tcase(s, tc);
    return test_run_suite(s, CK_NORMAL);
}
