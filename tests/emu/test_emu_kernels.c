/* Every CUDA kernel of src/backend/cuda but attention (test_emu_attention.c), run on the CPU by the
 * kernel emulator (cuda_emu.h). The shapes, dtypes and inputs are the op list's
 * (tests/backend/op_cases.c): each test case below runs the cases whose emu_case names it on the
 * emulated CUDA backend against the CPU backend, under every thread schedule, with poisoned
 * outputs (emu_check_cases), at the list's tolerances; a mismatch fails with "> tolerance", a
 * failed launch (deadlock, divergent barrier or warp operation) with the emulator's reason. What
 * the list cannot say is checked on the launchers directly: the conversion kernel bit-exact with
 * the host conversion for every dtype pair and the GELU kernel in both dtypes (the backend calls
 * them for some only), and the arguments a launcher refuses. One test case per kernel family, so
 * that CK_RUN_CASE picks one (the planted-defect tests in CMakeLists.txt do). */
#include <check.h>
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

/* check_close for outputs of dtype dt (ref from the twin, in dt too): tol_f32 or tol_bf16. */
static void check_dt(const char *what, emu_schedule s, ws_dtype dt, const void *ref, const void *got, size_t n,
                     size_t rows, double tol_f32, double tol_bf16) {
    float *r = widened(ref, dt, n), *g = widened(got, dt, n);
    char name[96];
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

START_TEST(test_layernorm) { emu_check_cases("layernorm"); }
END_TEST

START_TEST(test_residual_layernorm) { emu_check_cases("residual_layernorm"); }
END_TEST

/* The list's SwiGLU cases and the GEMMs that run the GELU and conversion kernels; then the GELU
 * launcher itself in both dtypes (the backend calls it for f32 outputs only), n a multiple of 4
 * (4-wide accesses) and odd (scalar). */
START_TEST(test_elementwise) {
    emu_check_cases("elementwise");
    const int M = 13, Hs[] = {300, 75};
    for (int hi = 0; hi < 2; hi++)
        for (int d = 0; d < 2; d++) {
            const ws_dtype dt = DTYPES[d];
            const size_t esz = ws_dtype_size(dt), n = (size_t)M * Hs[hi];
            void *x = random_dt(n, 4.0f, dt), *ref = copy_of(x, n * esz);
            twin_gelu(ref, dt, n);
            char name[64];
            snprintf(name, sizeof name, "gelu n=%zu", n);
            EMU_FOR_EACH_SCHEDULE(s) {
                void *got = copy_of(x, n * esz);
                emu_check_launch(name, cuda_gelu(got, dt, n, NULL));
                check_dt(name, s, dt, ref, got, n, M, 1e-6, BF16_TOL);
                free(got);
            }
            free(x), free(ref);
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

START_TEST(test_patch_tokens) { emu_check_cases("patch_tokens"); }
END_TEST

/* The k-means arg-max (exact): the list's cases plant ties (the lower column must win), a NaN
 * among numbers (never wins) and a row of NaNs (-1). */
START_TEST(test_row_argmax) { emu_check_cases("row_argmax"); }
END_TEST

/* What the launchers refuse without a launch: LayerNorm rows of C not a multiple of 4 or beyond
 * 16384, xn = x with a bf16 output, a dtype other than f32 and bf16; attention with a head size
 * past 128 or another dtype. */
START_TEST(test_refused) {
    float *buf = gpu_random(2 * 16388, 1.0f, &seed), *p = gpu_random(16388, 1.0f, &seed);
    ck_assert_int_eq(cuda_layernorm(buf, WS_DTYPE_F32, buf, p, p, 2, 202, 1e-6f, NULL), cudaErrorInvalidValue);
    ck_assert_int_eq(cuda_layernorm(buf, WS_DTYPE_F32, buf, p, p, 2, 16388, 1e-6f, NULL), cudaErrorInvalidValue);
    ck_assert_int_eq(cuda_layernorm(buf, WS_DTYPE_F16, buf, p, p, 2, 200, 1e-6f, NULL), cudaErrorInvalidValue);
    ck_assert_int_eq(cuda_residual_layernorm(buf, p, WS_DTYPE_F32, NULL, NULL, buf, WS_DTYPE_BF16, p, p, 2, 200,
                                             1e-6f, NULL),
                     cudaErrorInvalidValue);
    ck_assert_int_eq(cuda_attention(NULL, NULL, WS_DTYPE_F32, 1, 5, 1, 136, 0, NULL), cudaErrorInvalidValue);
    ck_assert_int_eq(cuda_attention(NULL, NULL, WS_DTYPE_F16, 1, 5, 1, 64, 1, NULL), cudaErrorInvalidValue);
    free(buf), free(p);
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
        {"refused", test_refused},
    };
    return test_run_cases("emu_kernels", cases, sizeof cases / sizeof cases[0], setup, teardown, 600);
}
