/* Every CUDA kernel of src/backend/cuda, run on the CPU by the kernel emulator (cuda_emu.h), against
 * its CPU twin (src/backend/cpu) on random inputs, in f32 and bf16, under each thread schedule.
 * Prints max abs and relative error per op, dtype and schedule; a mismatch fails with
 * "> tolerance", a failed launch (deadlock, divergent barrier or warp operation) with the
 * emulator's reason. Tolerances: f32 outputs as tests/gpu/test_cuda_ops.c; bf16 outputs within one
 * bf16 ulp of the twin's f32 result rounded to bf16 (max abs error at most 2^-8 of max |ref|);
 * pure data movement (im2col, convert) exact; LayerNorm also on nearly constant rows and rows with
 * a large mean (tolerance at the check). One test case per kernel family, so that
 * CK_RUN_CASE picks one (the planted-defect tests in CMakeLists.txt do). */
#include <check.h>
#include <math.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/cuda/cuda_kernels.h"
#include "common/dtype.h"
#include "common/error.h"
#include "emu_check.h"

static ws_backend *cpu;
static uint64_t seed = 0x9e3779b97f4a7c15ull;

static void setup(void) { ck_assert_int_eq(backend_cpu_create(1, &cpu), WS_OK); }
static void teardown(void) { backend_free(cpu); }

static const ws_dtype DTYPES[] = {WS_DTYPE_F32, WS_DTYPE_BF16};
static const double BF16_TOL = 1.0 / 256;   /* one bf16 ulp, relative: 2^-8 */

/* n elements of dtype dt widened to a new f32 array. */
static float *widened(const void *x, ws_dtype dt, size_t n) {
    float *f = malloc(n * sizeof(float));
    ws_convert_to_f32(f, x, dt, n);
    return f;
}

/* CPU twins of the kernels: the CPU ops of backend.h (an op's failure fails the test). */
static void twin_ok(const char *op, int rc) { ck_assert_msg(rc == WS_OK, "CPU %s: %s", op, ws_error_message()); }

static void twin_layernorm(void *out, ws_dtype odt, const float *in, const float *w, const float *b, int M, int C,
                           float eps) {
    twin_ok("layernorm", cpu->ops->layernorm(cpu, out, odt, in, w, b, M, C, eps));
}

static void twin_residual_layernorm(float *x, const void *y, ws_dtype ydt, const float *bias, const float *gamma,
                                    void *xn, ws_dtype odt, const float *ln_w, const float *ln_b, int M, int C,
                                    float eps) {
    twin_ok("residual_layernorm",
            cpu->ops->residual_layernorm(cpu, x, y, ydt, bias, gamma, xn, odt, ln_w, ln_b, M, C, eps));
}

static void twin_swiglu(void *out, const void *in, ws_dtype dt, int M, int H) {
    twin_ok("swiglu", cpu->ops->swiglu(cpu, out, in, dt, M, H));
}

/* GELU has no CPU op of its own: it is the matmul epilogue, so the twin is a product with the
 * 1 x 1 identity weight and the GELU epilogue. */
static void twin_gelu(void *x, ws_dtype dt, size_t n) {
    const float one = 1.0f;
    void *out = malloc(n * ws_dtype_size(dt));
    twin_ok("matmul (gelu)", cpu->ops->matmul(cpu, out, dt, x, dt, &one, WS_DTYPE_F32, NULL, WS_EPILOGUE_GELU,
                                               (int)n, 1, 1));
    memcpy(x, out, n * ws_dtype_size(dt));
    free(out);
}

static void twin_im2col(void *cols, ws_dtype dt, const float *pixels, int B, int R, int P) {
    twin_ok("im2col", cpu->ops->im2col(cpu, cols, dt, pixels, B, R, P));
}

/* check_close for outputs of dtype dt (ref from the twin, in dt too): tol_f32 or tol_bf16. */
static void check_dt(const char *what, emu_schedule s, ws_dtype dt, const void *ref, const void *got, size_t n,
                     size_t rows, double tol_f32, double tol_bf16) {
    float *r = widened(ref, dt, n), *g = widened(got, dt, n);
    char name[160];
    snprintf(name, sizeof name, "%s -> %s", what, ws_dtype_name(dt));
    emu_check_close(name, s, r, g, n, rows, dt == WS_DTYPE_BF16 ? tol_bf16 : tol_f32);
    free(r), free(g);
}

static void *copy_of(const void *x, size_t bytes) {
    void *y = malloc(bytes);
    memcpy(y, x, bytes);
    return y;
}

/* n uniform values in [-scale, scale) in dtype dt (bf16: rounded). */
static void *random_dt(size_t n, float scale, ws_dtype dt) {
    float *f = gpu_random(n, scale, &seed);
    void *x = malloc(n * ws_dtype_size(dt));
    ws_convert_from_f32(x, dt, f, n);
    free(f);
    return x;
}

/* A buffer of n elements of dtype dt filled with NaN, so that every output must be written. */
static void *nan_dt(size_t n, ws_dtype dt) {
    void *x = malloc(n * ws_dtype_size(dt));
    memset(x, 0xff, n * ws_dtype_size(dt));
    return x;
}

/* Rows of C = 200 (one warp: 50 groups of 4 channels, lanes with one group fewer), 1000 (two warps,
 * so the block sums cross warps) and 4096 (eight warps, four groups per thread). */
static const struct {
    int M, C;
} LN_SHAPES[] = {{37, 200}, {9, 1000}, {3, 4096}};

START_TEST(test_layernorm) {
    for (size_t sh = 0; sh < sizeof LN_SHAPES / sizeof LN_SHAPES[0]; sh++) {
        const int M = LN_SHAPES[sh].M, C = LN_SHAPES[sh].C;
        const size_t n = (size_t)M * C;
        float *x = gpu_random(n, 3.0f, &seed), *w = gpu_random(C, 1.0f, &seed), *b = gpu_random(C, 1.0f, &seed);
        for (size_t i = 0; i < n; i++) x[i] += 1.0f;
        char name[96];
        for (int d = 0; d < 2; d++) {
            const ws_dtype odt = DTYPES[d];
            void *ref = malloc(n * ws_dtype_size(odt));
            twin_layernorm(ref, odt, x, w, b, M, C, 1e-6f);
            snprintf(name, sizeof name, "layernorm M=%d C=%d", M, C);
            EMU_FOR_EACH_SCHEDULE(s) {
                /* f32 in place (out = in), bf16 into its own buffer */
                float *in = copy_of(x, n * sizeof(float));
                void *got = odt == WS_DTYPE_F32 ? (void *)in : nan_dt(n, odt);
                emu_check_launch(name, cuda_layernorm(got, odt, in, w, b, M, C, 1e-6f, NULL));
                check_dt(name, s, odt, ref, got, n, M, 1e-5, BF16_TOL);
                if (got != in) free(got);
                free(in);
            }
            free(ref);
        }
        free(x), free(w), free(b);
    }
    /* Rows where LayerNorm's numerics are hard (test_cpu_ops checks the twin on them against a
     * double reference): nearly constant rows, variance 0.1 and 1 times eps around 0 and 0.5, where
     * eps is much of the denominator (a kernel with eps ten times too large is off by 0.6), and rows
     * of mean 100 and 1e4 with unit spread. f32 out, C = 1000. Each side's f32 mean is off by k u
     * |mean| (u = 2^-24; k about 1 for sums in vector lanes or a block tree, growing like sqrt(C)
     * for a sum one value at a time, as in the sanitizer build: test_cpu_ops), which shifts the
     * normalised values by k u |mean| / sigma: tolerance 2e-6 plus twice (1 + sqrt(C)) u |mean| /
     * sigma. */
    const struct {
        float mean, spread;   /* x = mean + spread * uniform[-1, 1) */
    } hard[] = {{0.0f, 0.0f}, {0.5f, 0.0f}, {0.0f, 5.48e-4f}, {0.0f, 1.73e-3f}, {0.5f, 5.48e-4f},
                {0.5f, 1.73e-3f}, {100.0f, 1.0f}, {1e4f, 1.0f}};
    for (size_t k = 0; k < sizeof hard / sizeof hard[0]; k++) {
        const int M = 5, C = 1000;
        const size_t n = (size_t)M * C;
        float *x = gpu_random(n, hard[k].spread, &seed), *w = gpu_random(C, 0.2f, &seed), *b = gpu_random(C, 0.1f, &seed);
        for (size_t i = 0; i < n; i++) x[i] += hard[k].mean;
        for (int c = 0; c < C; c++) w[c] += 1.0f;
        float *ref = malloc(n * sizeof(float));
        twin_layernorm(ref, WS_DTYPE_F32, x, w, b, M, C, 1e-6f);
        const double sigma = hard[k].spread / sqrt(3.0);
        const double k_sum = 2.0 * (1.0 + sqrt((double)C));
        const double tol = 2e-6 + (sigma > 0 ? k_sum * ldexp(1.0, -24) * fabs(hard[k].mean) / sigma : 0.0);
        char name[96];
        snprintf(name, sizeof name, "layernorm mean %g spread %g", hard[k].mean, hard[k].spread);
        EMU_FOR_EACH_SCHEDULE(s) {
            float *got = nan_dt(n, WS_DTYPE_F32);
            emu_check_launch(name, cuda_layernorm(got, WS_DTYPE_F32, x, w, b, M, C, 1e-6f, NULL));
            emu_check_close(name, s, ref, got, n, M, tol);
            free(got);
        }
        free(x), free(w), free(b), free(ref);
    }
    /* Rows the kernel cannot hold are refused without a launch: C not a multiple of 4, C beyond
     * 16384, xn = x with a bf16 output, a dtype other than f32 and bf16. */
    float *buf = gpu_random(2 * 16388, 1.0f, &seed), *p = gpu_random(16388, 1.0f, &seed);
    ck_assert_int_eq(cuda_layernorm(buf, WS_DTYPE_F32, buf, p, p, 2, 202, 1e-6f, NULL), cudaErrorInvalidValue);
    ck_assert_int_eq(cuda_layernorm(buf, WS_DTYPE_F32, buf, p, p, 2, 16388, 1e-6f, NULL), cudaErrorInvalidValue);
    ck_assert_int_eq(cuda_layernorm(buf, WS_DTYPE_F16, buf, p, p, 2, 200, 1e-6f, NULL), cudaErrorInvalidValue);
    ck_assert_int_eq(cuda_residual_layernorm(buf, p, WS_DTYPE_F32, NULL, NULL, buf, WS_DTYPE_BF16, p, p, 2, 200,
                                             1e-6f, NULL),
                     cudaErrorInvalidValue);
    free(buf), free(p);
}
END_TEST

/* The fused residual + LayerScale + LayerNorm: every (y dtype, output dtype), bias and gamma each
 * present or absent, and xn = x (f32 output in place of the stream). Checks x and xn. */
START_TEST(test_residual_layernorm) {
    for (size_t sh = 0; sh < 2; sh++) {
        const int M = LN_SHAPES[sh].M, C = LN_SHAPES[sh].C;
        const size_t n = (size_t)M * C;
        float *x = gpu_random(n, 3.0f, &seed), *bias = gpu_random(C, 1.0f, &seed), *gamma = gpu_random(C, 1.0f, &seed);
        float *w = gpu_random(C, 1.0f, &seed), *b = gpu_random(C, 1.0f, &seed);
        for (size_t i = 0; i < n; i++) x[i] += 1.0f;
        for (int yd = 0; yd < 2; yd++)
            for (int od = 0; od < 3; od++)
                for (int v = 0; v < 4; v++) {
                    const ws_dtype ydt = DTYPES[yd], odt = DTYPES[od % 2];
                    const int in_place = od == 2;   /* xn = x, f32 */
                    const float *bb = v & 1 ? bias : NULL, *gg = v & 2 ? gamma : NULL;
                    void *y = random_dt(n, 2.0f, ydt);
                    float *xr = copy_of(x, n * sizeof(float));
                    void *xnr = in_place ? (void *)xr : malloc(n * ws_dtype_size(odt));
                    twin_residual_layernorm(xr, y, ydt, bb, gg, xnr, odt, w, b, M, C, 1e-6f);
                    char name[128];
                    snprintf(name, sizeof name, "residual_layernorm M=%d C=%d y %s%s%s%s", M, C, ws_dtype_name(ydt),
                             bb ? " bias" : "", gg ? " gamma" : "", in_place ? " xn=x" : "");
                    EMU_FOR_EACH_SCHEDULE(s) {
                        float *xg = copy_of(x, n * sizeof(float));
                        void *xng = in_place ? (void *)xg : nan_dt(n, odt);
                        emu_check_launch(name, cuda_residual_layernorm(xg, y, ydt, bb, gg, xng, odt, w, b, M, C, 1e-6f,
                                                                   NULL));
                        char xname[160];
                        snprintf(xname, sizeof xname, "%s: x", name);
                        if (!in_place) emu_check_close(xname, s, xr, xg, n, M, 1e-6);
                        snprintf(xname, sizeof xname, "%s: xn", name);
                        check_dt(xname, s, odt, xnr, xng, n, M, 1e-5, BF16_TOL);
                        if (!in_place) free(xng);
                        free(xg);
                    }
                    if (!in_place) free(xnr);
                    free(xr), free(y);
                }
        free(x), free(bias), free(gamma), free(w), free(b);
    }
}
END_TEST

/* GELU and SwiGLU in both dtypes, with H a multiple of 4 (4-wide accesses) and odd (scalar). */
START_TEST(test_elementwise) {
    const int M = 13, Hs[] = {300, 75};
    for (int hi = 0; hi < 2; hi++)
        for (int d = 0; d < 2; d++) {
            const int H = Hs[hi];
            const ws_dtype dt = DTYPES[d];
            const size_t esz = ws_dtype_size(dt), n = (size_t)M * H;
            void *x = random_dt((size_t)M * 2 * H, 4.0f, dt);
            void *gref = copy_of(x, n * esz), *sref = malloc(n * esz);
            twin_gelu(gref, dt, n);
            twin_swiglu(sref, x, dt, M, H);
            char gname[64], sname[64];
            snprintf(gname, sizeof gname, "gelu n=%zu", n);
            snprintf(sname, sizeof sname, "swiglu M=%d H=%d", M, H);
            EMU_FOR_EACH_SCHEDULE(s) {
                void *got = copy_of(x, n * esz);
                emu_check_launch(gname, cuda_gelu(got, dt, n, NULL));
                check_dt(gname, s, dt, gref, got, n, M, 1e-6, BF16_TOL);
                memset(got, 0xff, n * esz);
                emu_check_launch(sname, cuda_swiglu(got, x, dt, M, H, NULL));
                check_dt(sname, s, dt, sref, got, n, M, 1e-6, BF16_TOL);
                free(got);
            }
            free(x), free(gref), free(sref);
        }
}
END_TEST

/* f32 <-> bf16 (and the copies f32 -> f32, bf16 -> bf16): bit-exact with the host conversion,
 * n a multiple of 4 (4-wide accesses) and not. */
START_TEST(test_convert) {
    const size_t ns[] = {1000, 1003};
    for (int ni = 0; ni < 2; ni++)
        for (int sd = 0; sd < 2; sd++)
            for (int dd = 0; dd < 2; dd++) {
                const size_t n = ns[ni];
                const ws_dtype sdt = DTYPES[sd], ddt = DTYPES[dd];
                void *src = random_dt(n, 3.0f, sdt), *ref = malloc(n * ws_dtype_size(ddt));
                float *f = widened(src, sdt, n);
                ws_convert_from_f32(ref, ddt, f, n);
                EMU_FOR_EACH_SCHEDULE(s) {
                    void *got = nan_dt(n, ddt);
                    emu_check_launch("convert", cuda_convert(got, ddt, src, sdt, n, NULL));
                    ck_assert_msg(memcmp(ref, got, n * ws_dtype_size(ddt)) == 0,
                                  "convert %s -> %s n=%zu [%s]: differs from the host conversion", ws_dtype_name(sdt),
                                  ws_dtype_name(ddt), n, emu_schedule_name(s));
                    free(got);
                }
                printf("convert %s -> %s n=%zu: bit-exact under every schedule\n", ws_dtype_name(sdt),
                       ws_dtype_name(ddt), n);
                free(src), free(ref), free(f);
            }
}
END_TEST

START_TEST(test_patch_tokens) {
    const int B = 2, R = 28, P = 14, g = R / P, g2 = g * g, K = 3 * P * P, C = 40, nreg = 2, N = 1 + nreg + g2;
    const size_t ncols = (size_t)B * g2 * K;
    float *px = gpu_random((size_t)B * 3 * R * R, 1.0f, &seed);
    float *patches = gpu_random((size_t)B * g2 * C, 1.0f, &seed), *cls = gpu_random(C, 1.0f, &seed);
    float *reg = gpu_random((size_t)nreg * C, 1.0f, &seed), *pos = gpu_random((size_t)(1 + g2) * C, 1.0f, &seed);
    float *tref = malloc((size_t)B * N * C * sizeof(float)), *tgot = malloc((size_t)B * N * C * sizeof(float));
    float *mref = malloc((size_t)B * C * sizeof(float)), *mgot = malloc((size_t)B * C * sizeof(float));
    twin_ok("tokens", cpu->ops->tokens(cpu, tref, patches, cls, reg, pos, B, nreg, g2, C));
    twin_ok("token_mean", cpu->ops->token_mean(cpu, mref, tref, B, N, 1 + nreg, C));
    for (int d = 0; d < 2; d++) {
        const ws_dtype dt = DTYPES[d];
        void *ref = malloc(ncols * ws_dtype_size(dt));
        twin_im2col(ref, dt, px, B, R, P);
        EMU_FOR_EACH_SCHEDULE(s) {
            void *got = nan_dt(ncols, dt);
            emu_check_launch("im2col", cuda_im2col(got, dt, px, B, R, P, NULL));
            check_dt("im2col", s, dt, ref, got, ncols, (size_t)B * g2, 0.0, 0.0);
            free(got);
        }
        free(ref);
    }
    EMU_FOR_EACH_SCHEDULE(s) {
        emu_check_launch("tokens", cuda_tokens(tgot, patches, cls, reg, pos, B, nreg, g2, C, NULL));
        emu_check_close("tokens", s, tref, tgot, (size_t)B * N * C, (size_t)B * N, 1e-6);
        emu_check_launch("token_mean", cuda_token_mean(mgot, tref, B, N, 1 + nreg, C, NULL));
        emu_check_close("token_mean", s, mref, mgot, (size_t)B * C, B, 1e-6);
    }
    free(px), free(patches), free(cls), free(reg), free(pos);
    free(tref), free(tgot), free(mref), free(mgot);
}
END_TEST

/* The k-means arg-max: random scores with planted ties (the lower column must win), a NaN among
 * numbers (never wins), a row of NaNs (-1), a row of NaNs and -inf (its first -inf), N below, at
 * and above the warp width; exact. */
START_TEST(test_row_argmax) {
    const int Ns[] = {1, 7, 32, 100, 1000}, M = 37;
    for (size_t t = 0; t < sizeof Ns / sizeof Ns[0]; t++) {
        const int N = Ns[t];
        float *sc = gpu_random((size_t)M * N, 1.0f, &seed);
        for (int m = 0; m < M; m += 3) sc[(size_t)m * N + (m % N)] = 5.0f, sc[(size_t)m * N + N - 1] = 5.0f;
        sc[(size_t)1 * N] = NAN;
        for (int n = 0; n < N; n++) sc[(size_t)2 * N + n] = NAN;
        for (int n = 0; n < N; n++) sc[(size_t)4 * N + n] = n % 2 ? -INFINITY : NAN;   /* the first -inf */
        int32_t ri[M], gi[M];
        float rv[M], gv[M];
        twin_ok("row_argmax", cpu->ops->row_argmax(cpu, ri, rv, sc, M, N));
        ck_assert_int_eq(ri[2], -1);
        ck_assert_int_eq(ri[0], 0);
        ck_assert_int_eq(ri[4], N > 1 ? 1 : -1);
        EMU_FOR_EACH_SCHEDULE(s) {
            emu_check_launch("row_argmax", cuda_row_argmax(gi, gv, sc, M, N, NULL));
            for (int m = 0; m < M; m++)
                ck_assert_msg(gi[m] == ri[m] && (gv[m] == rv[m] || (isnan(gv[m]) && isnan(rv[m]))),
                              "row_argmax N=%d row %d: (%d, %g), CPU (%d, %g) > tolerance [%s]", N, m, gi[m],
                              gv[m], ri[m], rv[m], emu_schedule_name(s));
        }
        printf("row_argmax M=%d N=%d: identical to the CPU under every schedule\n", M, N);
        free(sc);
    }
}
END_TEST

int main(void) {
    const test_case cases[] = {
        {"row_argmax", test_row_argmax},
        {"layernorm", test_layernorm},
        {"residual_layernorm", test_residual_layernorm},
        {"elementwise", test_elementwise},
        {"convert", test_convert},
        {"patch_tokens", test_patch_tokens},
    };
    return test_run_cases("emu_kernels", cases, sizeof cases / sizeof cases[0], setup, teardown, 600);
}
