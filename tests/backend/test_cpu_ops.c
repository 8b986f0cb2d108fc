/* CPU ops against plain double-precision references: matmul in every combination of input,
 * weights and output dtype (f32, bf16) with and without the GELU epilogue and bias, and
 * residual_layernorm (bias and LayerScale present or absent, f32 or bf16 branch and output, in
 * place for the final LayerNorm), LayerNorm on nearly constant rows and rows with a large mean,
 * swiglu and the attention core (f32, bf16, f32 rounded to bf16;
 * token counts around the vector width, probabilities that underflow). bf16 operands are rounded the way torch.autocast rounds them;
 * a bf16 output may differ from the reference by one bf16 rounding. Prints the max abs and
 * relative error per case. Also: ops return WS_ERR_NOMEM with a message naming the op and shape,
 * never abort, when their scratch memory cannot be had (shapes whose scratch exceeds any
 * address space; the inputs are never read); the activation dtype the backend chooses; and more
 * OpenMP threads than any fixed table would hold (300) give the same results as 2. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "common/dtype.h"
#include "common/error.h"
#include "op_cases.h"
#include "test_main.h"

/* Under AddressSanitizer, an allocation it cannot serve returns NULL (as malloc does) instead of
 * ending the process: the NOMEM test needs that. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

static ws_backend *be;
static unsigned seed = 777u;

static void setup(void) { ck_assert_int_eq(backend_create("cpu", 2, 0, &be), WS_OK); }
static void teardown(void) { backend_free(be); }

static float frand(void) {
    seed = seed * 1664525u + 1013904223u;
    return (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static float round_bf16(float v) { return ws_bf16_to_f32(ws_f32_to_bf16(v)); }

/* n values of dtype dt made from f32 values v (rounded when bf16); v is rounded in place so that
 * it holds exactly what the buffer holds. */
static void *buffer_of(float *v, size_t n, ws_dtype dt) {
    void *p = malloc(n * ws_dtype_size(dt));
    ck_assert_ptr_nonnull(p);
    if (dt == WS_DTYPE_BF16)
        for (size_t i = 0; i < n; i++) v[i] = round_bf16(v[i]);
    ws_convert_from_f32(p, dt, v, n);
    return p;
}

static float value_at(const void *p, ws_dtype dt, size_t i) {
    return dt == WS_DTYPE_BF16 ? ws_bf16_to_f32(((const uint16_t *)p)[i]) : ((const float *)p)[i];
}

/* Compare got (dtype dt) with ref; a bf16 result may be off by one rounding (2^-8 relative). */
static void check_close(const char *name, const void *got, ws_dtype dt, const double *ref, size_t n,
                        double tol) {
    double err = 0, scale = 0, worst = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(ref[i]));
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(isfinite(value_at(got, dt, i)), "%s: element %zu is %g", name, i, value_at(got, dt, i));
        const double e = fabs(value_at(got, dt, i) - ref[i]);
        const double allowed = tol * scale + (dt == WS_DTYPE_BF16 ? ldexp(fabs(ref[i]), -8) : 0.0);
        err = fmax(err, e);
        worst = fmax(worst, e / allowed);
    }
    printf("%-58s max abs err %.3e  rel %.3e\n", name, err, err / scale);
    ck_assert_msg(worst <= 1.0, "%s: error %g past the tolerance (%g of max |ref| %g%s)", name, err, tol,
                  scale, dt == WS_DTYPE_BF16 ? ", plus one bf16 rounding" : "");
}

START_TEST(matmul_dtypes_and_epilogue) {
    const ws_dtype dts[] = {WS_DTYPE_F32, WS_DTYPE_BF16};
    const int M = 23, N = 37, K = 45;
    for (int wi = 0; wi < 2; wi++) {
        const ws_dtype wdt = dts[wi];
        char desc[320];
        ck_assert_int_eq(be->ops->gemm_select(be, wdt, WS_GEMM_MODEL, desc, sizeof desc), WS_OK);
        for (int ii = 0; ii < 2; ii++)
            for (int oi = 0; oi < 2; oi++)
                for (int epi = 0; epi < 2; epi++)
                    for (int with_bias = 0; with_bias < 2; with_bias++) {
                        const ws_dtype idt = dts[ii], odt = dts[oi];
                        float *x = malloc(sizeof(float) * M * K), *wf = malloc(sizeof(float) * N * K);
                        float *bias = malloc(sizeof(float) * N);
                        double *ref = malloc(sizeof(double) * M * N);
                        ck_assert(x && wf && bias && ref);
                        for (int i = 0; i < M * K; i++) x[i] = 2.0f * frand();
                        for (int i = 0; i < N * K; i++) wf[i] = frand();
                        for (int i = 0; i < N; i++) bias[i] = frand();
                        void *in = buffer_of(x, (size_t)M * K, idt);
                        void *w = be->ops->alloc(be, (size_t)N * K * ws_dtype_size(wdt));
                        ck_assert_ptr_nonnull(w);
                        if (wdt == WS_DTYPE_BF16)
                            for (int i = 0; i < N * K; i++) wf[i] = round_bf16(wf[i]);
                        ws_convert_from_f32(w, wdt, wf, (size_t)N * K);
                        /* the product follows the weights' dtype: bf16 weights round the input */
                        for (int m = 0; m < M; m++)
                            for (int n = 0; n < N; n++) {
                                double acc = with_bias ? bias[n] : 0.0;
                                for (int k = 0; k < K; k++) {
                                    const float xv = x[(size_t)m * K + k];
                                    acc += (double)(wdt == WS_DTYPE_BF16 ? round_bf16(xv) : xv) * wf[(size_t)n * K + k];
                                }
                                if (epi) acc = 0.5 * acc * (1.0 + erf(acc / sqrt(2.0)));
                                ref[(size_t)m * N + n] = acc;
                            }
                        void *out = malloc((size_t)M * N * ws_dtype_size(odt));
                        ck_assert_ptr_nonnull(out);
                        ck_assert_int_eq(be->ops->matmul(be, out, odt, in, idt, w, wdt, with_bias ? bias : NULL,
                                                         epi ? WS_EPILOGUE_GELU : WS_EPILOGUE_NONE, M, N, K),
                                         WS_OK);
                        char name[128];
                        snprintf(name, sizeof name, "matmul in %s w %s out %s %s bias=%d", ws_dtype_name(idt),
                                 ws_dtype_name(wdt), ws_dtype_name(odt), epi ? "gelu" : "none", with_bias);
                        /* f32: measured at most 2.4e-7 of max |ref| (K = 45: a few roundings of the
                         * sum); 1e-5 still fails a bias or GELU that is off by a bf16 rounding or
                         * the tanh approximation (1e-4 and more) */
                        check_close(name, out, odt, ref, (size_t)M * N, 1e-5);
                        be->ops->free(be, w);
                        free(x), free(wf), free(bias), free(ref), free(in), free(out);
                    }
    }
}
END_TEST

START_TEST(residual_layernorm_against_reference) {
    const ws_dtype dts[] = {WS_DTYPE_F32, WS_DTYPE_BF16};
    const int M = 19, C = 130;
    const float eps = 1e-6f;
    for (int v = 0; v < 4; v++)   /* bias and gamma each present or absent */
        for (int yi = 0; yi < 2; yi++)
            for (int oi = 0; oi < 3; oi++) {   /* f32, bf16, f32 in place (xn = x) */
                const ws_dtype ydt = dts[yi], odt = oi == 1 ? WS_DTYPE_BF16 : WS_DTYPE_F32;
                const int in_place = oi == 2;
                float *x = malloc(sizeof(float) * M * C), *yf = malloc(sizeof(float) * M * C);
                float *bias = malloc(sizeof(float) * C), *gamma = malloc(sizeof(float) * C);
                float *lw = malloc(sizeof(float) * C), *lb = malloc(sizeof(float) * C);
                double *rx = malloc(sizeof(double) * M * C), *rn = malloc(sizeof(double) * M * C);
                ck_assert(x && yf && bias && gamma && lw && lb && rx && rn);
                for (int i = 0; i < M * C; i++) x[i] = 3.0f * frand() + 1.0f, yf[i] = frand();
                for (int i = 0; i < C; i++) bias[i] = frand(), gamma[i] = frand(), lw[i] = frand(), lb[i] = frand();
                const float *bb = v & 1 ? bias : NULL, *gg = v & 2 ? gamma : NULL;
                void *y = buffer_of(yf, (size_t)M * C, ydt);
                for (int m = 0; m < M; m++) {
                    double mean = 0, var = 0;
                    for (int c = 0; c < C; c++) {
                        const size_t i = (size_t)m * C + c;
                        const double u = (double)yf[i] + (bb ? bb[c] : 0.0);
                        rx[i] = (double)x[i] + (gg ? gg[c] * u : u);
                        mean += rx[i];
                    }
                    mean /= C;
                    for (int c = 0; c < C; c++) var += (rx[(size_t)m * C + c] - mean) * (rx[(size_t)m * C + c] - mean);
                    const double rstd = 1.0 / sqrt(var / C + eps);
                    for (int c = 0; c < C; c++)
                        rn[(size_t)m * C + c] = (rx[(size_t)m * C + c] - mean) * rstd * lw[c] + lb[c];
                }
                void *xn = in_place ? (void *)x : malloc((size_t)M * C * ws_dtype_size(odt));
                ck_assert_ptr_nonnull(xn);
                ck_assert_int_eq(be->ops->residual_layernorm(be, x, y, ydt, bb, gg, xn, odt, lw, lb, M, C, eps),
                                 WS_OK);
                char name[128];
                snprintf(name, sizeof name, "residual_layernorm bias=%d gamma=%d y %s out %s%s: xn", !!bb, !!gg,
                         ws_dtype_name(ydt), ws_dtype_name(odt), in_place ? " in place" : "");
                /* f32: measured at most 1.3e-7 of max |ref| (rows of variance about 3, C = 130: two
                 * or three roundings); 5e-7 fails a LayerNorm eps ten times too large, which moves
                 * these rows by 1.1e-6 to 1.4e-6 (planted and checked) */
                check_close(name, xn, odt, rn, (size_t)M * C, odt == WS_DTYPE_F32 ? 5e-7 : 1e-5);
                if (!in_place) {
                    name[strlen(name) - 2] = 'x';
                    name[strlen(name) - 1] = '\0';
                    check_close(name, x, WS_DTYPE_F32, rx, (size_t)M * C, 1e-6);
                    free(xn);
                }
                free(x), free(yf), free(bias), free(gamma), free(lw), free(lb), free(rx), free(rn), free(y);
            }
}
END_TEST

/* LayerNorm (f32 out) on rows where its numerics are hard, against a double-precision reference
 * of the same f32 inputs, each class printed on its own line:
 *   - nearly constant rows, variance 0, 0.1, 1 and 10 times eps around mean 0 and 0.5: eps is a
 *     large part of the denominator, so an eps used wrongly (ten times too large, added after the
 *     square root, left out: NaN on the constant rows) moves the output far past the tolerance;
 *   - rows with a large mean (100, 1e4) and unit spread, and the nearly constant rows around 0.5:
 *     a one-pass variance (E[x^2] - mean^2 in f32) cancels there, the two-pass one does not.
 * Tolerance (of max |ref|): the f32 mean of a row is off by k u |mean| (u = 2^-24: its own
 * rounding plus the sum's), which shifts every normalised value by k u |mean| / sigma; k is about 1
 * when the row is summed in vector lanes and grows like sqrt(C) when it is summed one value at a
 * time (the sanitizer build). So 2e-6 (the error of rows with mean 0 is at most 4.6e-7) plus
 * (1 + sqrt(C)) u |mean| / sigma: measured k 0.7 to 1.4 in AVX-512 lanes, up to 11.5 summed one
 * by one (C = 1024, mean 1e4), against 12 (C = 130) and 33 (C = 1024) allowed. Planted and checked: a ten times larger eps
 * moves the rows of variance 0.1 eps around 0 by 0.6 of max |ref| (allowed 2e-6); a one-pass
 * variance those around 0.5 by 3.5e-2 (allowed 1.2e-3).
 * Rows of C = 130 (not a multiple of the vector width) and 1024 (the smallest model's
 * width). */
typedef struct {
    const char *what;
    float mean, spread;   /* x = mean + spread * uniform[-1, 1): sigma = spread / sqrt(3) */
} ln_rows;

START_TEST(layernorm_hard_rows) {
    const float eps = 1e-6f;
    const ln_rows cls[] = {
        {"constant row, mean 0", 0.0f, 0.0f},
        {"constant row, mean 0.5", 0.5f, 0.0f},
        {"variance 0.1 eps, mean 0", 0.0f, 5.48e-4f},
        {"variance eps, mean 0", 0.0f, 1.73e-3f},
        {"variance 10 eps, mean 0", 0.0f, 5.48e-3f},
        {"variance 0.1 eps, mean 0.5", 0.5f, 5.48e-4f},
        {"variance eps, mean 0.5", 0.5f, 1.73e-3f},
        {"variance 10 eps, mean 0.5", 0.5f, 5.48e-3f},
        {"variance 1/3, mean 100", 100.0f, 1.0f},
        {"variance 1/3, mean 1e4", 1e4f, 1.0f},
    };
    const int Cs[] = {130, 1024}, M = 8;
    for (size_t ci = 0; ci < sizeof Cs / sizeof Cs[0]; ci++)
        for (size_t k = 0; k < sizeof cls / sizeof cls[0]; k++) {
            const int C = Cs[ci];
            float *x = malloc(sizeof(float) * M * C), *w = malloc(sizeof(float) * C), *b = malloc(sizeof(float) * C);
            float *out = malloc(sizeof(float) * M * C);
            double *ref = malloc(sizeof(double) * M * C);
            ck_assert(x && w && b && out && ref);
            for (int c = 0; c < C; c++) w[c] = 1.0f + 0.2f * frand(), b[c] = 0.1f * frand();
            for (int i = 0; i < M * C; i++) x[i] = cls[k].mean + cls[k].spread * frand();
            for (int m = 0; m < M; m++) {
                const float *xr = x + (size_t)m * C;
                double mean = 0, var = 0;
                for (int c = 0; c < C; c++) mean += xr[c];
                mean /= C;
                for (int c = 0; c < C; c++) var += (xr[c] - mean) * (xr[c] - mean);
                const double rstd = 1.0 / sqrt(var / C + eps);
                for (int c = 0; c < C; c++) ref[(size_t)m * C + c] = (xr[c] - mean) * rstd * w[c] + b[c];
            }
            ck_assert_int_eq(be->ops->layernorm(be, out, WS_DTYPE_F32, x, w, b, M, C, eps), WS_OK);
            char name[128];
            snprintf(name, sizeof name, "layernorm C=%d %s", C, cls[k].what);
            const double sigma = cls[k].spread / sqrt(3.0);
            const double k_sum = 1.0 + sqrt((double)C);
            check_close(name, out, WS_DTYPE_F32, ref, (size_t)M * C,
                        2e-6 + (sigma > 0 ? k_sum * ldexp(1.0, -24) * fabs(cls[k].mean) / sigma : 0.0));
            free(x), free(w), free(b), free(out), free(ref);
        }
}
END_TEST

/* SiLU gate in both dtypes, H not a multiple of the vector width, gates from -100 to 100 (exp(-g)
 * overflows in f32 below -88.7 and underflows above 87): expf and its vector variant (libmvec)
 * alike. */
START_TEST(swiglu_against_reference) {
    const int M = 7, H = 45;
    for (int di = 0; di < 2; di++) {
        const ws_dtype dt = di ? WS_DTYPE_BF16 : WS_DTYPE_F32;
        float *x = malloc(sizeof(float) * M * 2 * H);
        double *ref = malloc(sizeof(double) * M * H);
        ck_assert(x && ref);
        for (int i = 0; i < M * 2 * H; i++) x[i] = 100.0f * frand();
        void *in = buffer_of(x, (size_t)M * 2 * H, dt), *out = malloc((size_t)M * H * ws_dtype_size(dt));
        ck_assert_ptr_nonnull(out);
        for (int m = 0; m < M; m++)
            for (int h = 0; h < H; h++) {
                const double g = x[(size_t)m * 2 * H + h], l = x[(size_t)m * 2 * H + H + h];
                ref[(size_t)m * H + h] = g / (1.0 + exp(-g)) * l;
            }
        ck_assert_int_eq(be->ops->swiglu(be, out, in, dt, M, H), WS_OK);
        char name[64];
        snprintf(name, sizeof name, "swiglu %s", ws_dtype_name(dt));
        check_close(name, out, dt, ref, (size_t)M * H, 1e-6);   /* f32: measured 5e-8 */
        free(x), free(ref), free(in), free(out);
    }
}
END_TEST

/* The attention core in both dtypes, each with and without bf16 rounding of q, k, v and the
 * probabilities, for token counts below, at and above the vector width, against a double-precision
 * softmax(q k^T / sqrt(hs)) v. Scores have a standard deviation of about 12; in the second image
 * token 0's key outscores every other by at least 150 (q = 6, k0 = 15, |k| <= 6), so every other
 * probability underflows to zero. */
static void attention_cases(const char *path) {
    const int B = 2, NH = 3, hs = 8, Ns[] = {1, 5, 8, 37, 1200};   /* 1200: oneDNN's heads in groups */
    const int C = NH * hs;
    for (size_t ni = 0; ni < sizeof Ns / sizeof Ns[0]; ni++)
        for (int mode = 0; mode < 4; mode++) {
            const int N = Ns[ni], round = mode & 1;
            const ws_dtype dt = mode & 2 ? WS_DTYPE_BF16 : WS_DTYPE_F32;
            const size_t nqkv = (size_t)B * N * 3 * C, nout = (size_t)B * N * C;
            float *x = malloc(sizeof(float) * nqkv);
            double *ref = malloc(sizeof(double) * nout);
            ck_assert(x && ref);
            for (size_t i = 0; i < nqkv; i++) x[i] = 6.0f * frand();
            for (int i = 0; i < N; i++)   /* image 1: every q is 6, k of token 0 is 15 */
                for (int e = 0; e < C; e++) {
                    x[((size_t)N + i) * 3 * C + e] = 6.0f;
                    if (i == 0) x[(size_t)N * 3 * C + C + e] = 15.0f;
                }
            void *qkv = buffer_of(x, nqkv, dt), *out = malloc(nout * ws_dtype_size(dt));
            ck_assert_ptr_nonnull(out);
            op_reference_attention(x, B, N, NH, hs, round, ref);
            ck_assert_int_eq(be->ops->attention(be, out, qkv, dt, B, N, NH, hs, round), WS_OK);
            char name[96];
            snprintf(name, sizeof name, "attention (gemm %s) N=%d %s%s", path, N, ws_dtype_name(dt),
                     round ? " rounded to bf16" : "");
            /* f32: measured at most 7.5e-7 of max |ref| (scores of spread 12 through expf) */
            check_close(name, out, dt, ref, nout, round ? 4e-3 : 1e-5);
            free(x), free(ref), free(qkv), free(out);
        }
}

/* ... on each bf16 GEMM path: with oneDNN's, the rounded cases run both products in bf16 through
 * it (attention_onednn.c); a path this build or CPU lacks is skipped with its reason. */
START_TEST(attention_against_reference) {
    const char *const paths[] = {"openblas", "onednn"};
    char desc[320];
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(setenv("WEBSSL_GEMM", paths[i], 1), 0);
        if (be->ops->gemm_select(be, WS_DTYPE_BF16, WS_GEMM_MODEL, desc, sizeof desc) != WS_OK) {
            printf("attention (gemm %s): skipped: %s\n", paths[i], ws_error_message());
            continue;
        }
        attention_cases(paths[i]);
    }
    unsetenv("WEBSSL_GEMM");
}
END_TEST

/* The activation dtype: f32 on the widened (OpenBLAS) bf16 path, bf16 when WEBSSL_ACTIVATIONS
 * forces it (for bf16 weights only), and an error naming a bad value. */
START_TEST(activation_dtype_choice) {
    char desc[320];
    ck_assert_int_eq(setenv("WEBSSL_GEMM", "openblas", 1), 0);
    const char *const forced[] = {NULL, "bf16", "f32"};
    const ws_dtype want[] = {WS_DTYPE_F32, WS_DTYPE_BF16, WS_DTYPE_F32};
    for (int i = 0; i < 3; i++) {
        if (forced[i]) ck_assert_int_eq(setenv("WEBSSL_ACTIVATIONS", forced[i], 1), 0);
        else unsetenv("WEBSSL_ACTIVATIONS");
        ck_assert_int_eq(be->ops->gemm_select(be, WS_DTYPE_F32, WS_GEMM_MODEL, desc, sizeof desc), WS_OK);
        ck_assert_int_eq(be->ops->gemm_select(be, WS_DTYPE_BF16, WS_GEMM_MODEL, desc, sizeof desc), WS_OK);
        printf("WEBSSL_ACTIVATIONS=%s: %s\n", forced[i] ? forced[i] : "(unset)", desc);
        ck_assert_int_eq(be->ops->activation_dtype(be, WS_DTYPE_BF16), want[i]);
        ck_assert_int_eq(be->ops->activation_dtype(be, WS_DTYPE_F32), WS_DTYPE_F32);
    }
    ck_assert_int_eq(setenv("WEBSSL_ACTIVATIONS", "f16", 1), 0);
    ck_assert_int_eq(be->ops->gemm_select(be, WS_DTYPE_BF16, WS_GEMM_MODEL, desc, sizeof desc), WS_ERR_ARG);
    printf("bad value: %s\n", ws_error_message());
    ck_assert_ptr_nonnull(strstr(ws_error_message(), "WEBSSL_ACTIVATIONS='f16'"));
    unsetenv("WEBSSL_ACTIVATIONS");
    unsetenv("WEBSSL_GEMM");
}
END_TEST

/* The error of an op that could not get its scratch: WS_ERR_NOMEM, naming the op. */
static void check_nomem(int rc, const char *op) {
    printf("%s: %s\n", op, ws_error_message());
    ck_assert_int_eq(rc, WS_ERR_NOMEM);
    ck_assert_ptr_nonnull(strstr(ws_error_message(), op));
}

START_TEST(scratch_out_of_memory_is_an_error) {
    float dummy[16] = {0};
    /* bf16 attention rounds q, k, v into scratch: B*N*3*NH*hs floats, here 3 * 2^47 bytes */
    check_nomem(be->ops->attention(be, dummy, dummy, WS_DTYPE_F32, 1 << 10, 1 << 15, 1, 1 << 20, 1),
                "cpu attention");
    check_nomem(be->ops->attention(be, dummy, dummy, WS_DTYPE_BF16, 1 << 10, 1 << 15, 1, 1 << 20, 0),
                "cpu attention");
    /* bf16 weights (widened path) round the input into scratch: M*K floats, 2^48 bytes */
    char desc[320];
    ck_assert_int_eq(be->ops->gemm_select(be, WS_DTYPE_BF16, WS_GEMM_MODEL, desc, sizeof desc), WS_OK);
    check_nomem(be->ops->matmul(be, dummy, WS_DTYPE_F32, dummy, WS_DTYPE_F32, dummy, WS_DTYPE_BF16, NULL,
                                WS_EPILOGUE_NONE, 1 << 25, 1, 1 << 21),
                "cpu matmul");
    /* a bf16 input is widened into scratch before any GEMM path runs */
    check_nomem(be->ops->matmul(be, dummy, WS_DTYPE_F32, dummy, WS_DTYPE_BF16, dummy, WS_DTYPE_F32, NULL,
                                WS_EPILOGUE_NONE, 1 << 25, 1, 1 << 21),
                "cpu matmul");
    /* the backend still works afterwards */
    float in[2] = {1.0f, 2.0f}, w[2] = {3.0f, 4.0f}, out[1];
    ck_assert_int_eq(be->ops->matmul(be, out, WS_DTYPE_F32, in, WS_DTYPE_F32, w, WS_DTYPE_F32, NULL,
                                     WS_EPILOGUE_NONE, 1, 1, 2), WS_OK);
    ck_assert_float_eq(out[0], 11.0f);
}
END_TEST

/* The ops with per-thread scratch (attention; the widened bf16 GEMM) on 300 threads: the same
 * attention bits as on 2 (one thread computes each image and head either way), the same GEMM to
 * 1e-6 (OpenBLAS may block narrower column slices differently). */
START_TEST(more_threads_than_a_fixed_table) {
    enum { B = 3, N = 17, NH = 2, hs = 8, C = NH * hs, M = 9, NW = 600, K = 32 };
    float qkv[B * N * 3 * C], in[M * K], w[NW * K], ref_att[B * N * C], ref_mm[M * NW];
    static float att[B * N * C], mm[M * NW];
    for (size_t i = 0; i < sizeof qkv / sizeof *qkv; i++) qkv[i] = frand();
    for (size_t i = 0; i < sizeof in / sizeof *in; i++) in[i] = frand();
    uint16_t wb[NW * K];
    for (size_t i = 0; i < sizeof w / sizeof *w; i++) w[i] = frand(), wb[i] = ws_f32_to_bf16(w[i]);
    ck_assert_int_eq(setenv("WEBSSL_GEMM", "openblas", 1), 0);
    char desc[320];
    for (int threads = 2; threads <= 300; threads += 298) {
        ws_backend *b = NULL;
        ck_assert_int_eq(backend_create("cpu", threads, 0, &b), WS_OK);
        ck_assert_int_eq(b->ops->gemm_select(b, WS_DTYPE_BF16, WS_GEMM_MODEL, desc, sizeof desc), WS_OK);
        float *oa = threads == 2 ? ref_att : att, *om = threads == 2 ? ref_mm : mm;
        ck_assert_int_eq(b->ops->attention(b, oa, qkv, WS_DTYPE_F32, B, N, NH, hs, 0), WS_OK);
        ck_assert_int_eq(b->ops->matmul(b, om, WS_DTYPE_F32, in, WS_DTYPE_F32, wb, WS_DTYPE_BF16, NULL,
                                        WS_EPILOGUE_NONE, M, NW, K), WS_OK);
        printf("%d threads: attention and bf16 matmul ran (%s)\n", b->threads, desc);
        backend_free(b);
    }
    ck_assert_int_eq(memcmp(att, ref_att, sizeof att), 0);
    double err = 0, scale = 0;
    for (int i = 0; i < M * NW; i++) err = fmax(err, fabs(mm[i] - ref_mm[i])), scale = fmax(scale, fabs(ref_mm[i]));
    printf("300 threads against 2: attention identical, bf16 matmul max abs err %.3e rel %.3e\n", err,
           err / scale);
    ck_assert(err <= 1e-6 * scale);
    unsetenv("WEBSSL_GEMM");
}
END_TEST

int main(void) {
    Suite *s = suite_create("cpu_ops");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, matmul_dtypes_and_epilogue);
    tcase_add_test(tc, residual_layernorm_against_reference);
    tcase_add_test(tc, layernorm_hard_rows);
    tcase_add_test(tc, swiglu_against_reference);
    tcase_add_test(tc, attention_against_reference);
    tcase_add_test(tc, activation_dtype_choice);
    tcase_add_test(tc, scratch_out_of_memory_is_an_error);
    tcase_add_test(tc, more_threads_than_a_fixed_table);
    suite_add_tcase(s, tc);
    return test_run_suite(s, CK_NORMAL);
}
