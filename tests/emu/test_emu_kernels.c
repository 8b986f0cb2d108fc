/* Every CUDA kernel of src/backend/cuda, run on the CPU by the kernel emulator (cuda_emu.h), against
 * its CPU twin (src/backend/cpu) on random inputs, under each thread schedule, at the tolerances of
 * tests/gpu/test_cuda_ops.c. Prints max abs and relative error per op and schedule; a mismatch
 * fails with "> tolerance", a failed launch (deadlock, divergent barrier or warp operation) with
 * the emulator's reason. One test case per kernel family, so that CK_RUN_CASE picks one (the
 * planted-defect tests in CMakeLists.txt do). */
#include <check.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/cuda/cuda_kernels.h"
#include "common/dtype.h"
#include "common/error.h"
#include "emu_control.h"
#include "gpu/compare.h"
#include "test_main.h"

static ws_backend *cpu;
static uint64_t seed = 0x9e3779b97f4a7c15ull;

static void setup(void) { ck_assert_int_eq(backend_cpu_create(1, &cpu), WS_OK); }
static void teardown(void) { backend_free(cpu); }

/* The launcher's status must be success; otherwise the emulator says why. */
static void check_launch(const char *what, cudaError_t rc) {
    ck_assert_msg(rc == cudaSuccess, "%s: launch failed (%d): %s", what, (int)rc, emu_last_failure());
}

static void check_close(const char *what, emu_schedule s, const float *ref, const float *got, size_t n,
                        size_t rows, double tol) {
    char name[160];
    snprintf(name, sizeof name, "%s [%s]", what, emu_schedule_name(s));
    gpu_diff d = gpu_compare(name, ref, got, n, rows);
    ck_assert_msg(d.rel <= tol, "%s: rel err %.3e > tolerance %.1e", name, d.rel, tol);
}

/* Runs the enclosed block once per schedule, with `s` naming it. */
#define FOR_EACH_SCHEDULE(s) \
    for (emu_schedule s = EMU_SCHEDULE_FORWARD; s < EMU_SCHEDULES; s = (emu_schedule)(s + 1)) \
        if (emu_set_schedule(s, 0x5eed + (uint64_t)s), 1)

static float *copy_of(const float *x, size_t n) {
    float *y = malloc(n * sizeof(float));
    memcpy(y, x, n * sizeof(float));
    return y;
}

START_TEST(test_layernorm) {
    const int M = 37, C = 200;   /* C not a multiple of 32: lanes with one element fewer */
    float *x = gpu_random((size_t)M * C, 3.0f, &seed), *w = gpu_random(C, 1.0f, &seed), *b = gpu_random(C, 1.0f, &seed);
    for (int i = 0; i < M * C; i++) x[i] += 1.0f;
    float *ref = malloc((size_t)M * C * sizeof(float));
    cpu->ops->layernorm(cpu, ref, x, w, b, M, C, 1e-6f);
    FOR_EACH_SCHEDULE(s) {
        float *got = copy_of(x, (size_t)M * C);
        check_launch("layernorm", cuda_layernorm(got, got, w, b, M, C, 1e-6f, NULL));   /* in place */
        check_close("layernorm M=37 C=200", s, ref, got, (size_t)M * C, M, 1e-5);
        free(got);
    }
    free(x), free(w), free(b), free(ref);
}
END_TEST

START_TEST(test_elementwise) {
    const int M = 13, H = 300, C = 96;
    float *x = gpu_random((size_t)M * 2 * H, 4.0f, &seed);
    float *ref = copy_of(x, (size_t)M * H), *ref2 = malloc((size_t)M * H * sizeof(float));
    cpu->ops->gelu(cpu, ref, (size_t)M * H);
    cpu->ops->swiglu(cpu, ref2, x, M, H);
    float *y = gpu_random((size_t)M * C, 1.0f, &seed), *bias = gpu_random(C, 1.0f, &seed), *gamma = gpu_random(C, 1.0f, &seed);
    FOR_EACH_SCHEDULE(s) {
        float *got = copy_of(x, (size_t)M * H);
        check_launch("gelu", cuda_gelu(got, (size_t)M * H, NULL));
        check_close("gelu", s, ref, got, (size_t)M * H, M, 1e-6);
        check_launch("swiglu", cuda_swiglu(got, x, M, H, NULL));
        check_close("swiglu", s, ref2, got, (size_t)M * H, M, 1e-6);
        free(got);
        for (int v = 0; v < 4; v++) {   /* bias and gamma each present or absent */
            const float *bb = v & 1 ? bias : NULL, *gg = v & 2 ? gamma : NULL;
            float *r = copy_of(x, (size_t)M * C), *g = copy_of(x, (size_t)M * C);
            cpu->ops->residual(cpu, r, y, bb, gg, M, C);
            check_launch("residual", cuda_residual(g, y, bb, gg, M, C, NULL));
            check_close("residual", s, r, g, (size_t)M * C, M, 1e-6);
            free(r), free(g);
        }
        /* f32 -> bf16 rounding: bit-exact with the host conversion. */
        uint16_t *hb = malloc((size_t)M * H * 2), *gb = malloc((size_t)M * H * 2);
        ws_convert_from_f32(hb, WS_DTYPE_BF16, x, (size_t)M * H);
        check_launch("f32_to_bf16", cuda_f32_to_bf16(gb, x, (size_t)M * H, NULL));
        ck_assert_msg(memcmp(hb, gb, (size_t)M * H * 2) == 0, "f32_to_bf16 [%s]: differs from the host rounding",
                      emu_schedule_name(s));
        free(hb), free(gb);
    }
    free(x), free(ref), free(ref2), free(y), free(bias), free(gamma);
}
END_TEST

START_TEST(test_patch_tokens) {
    const int B = 2, R = 28, P = 14, g = R / P, g2 = g * g, K = 3 * P * P, C = 40, nreg = 2, N = 1 + nreg + g2;
    float *px = gpu_random((size_t)B * 3 * R * R, 1.0f, &seed);
    float *ref = malloc((size_t)B * g2 * K * sizeof(float)), *got = malloc((size_t)B * g2 * K * sizeof(float));
    cpu->ops->im2col(cpu, ref, px, B, R, P);
    float *patches = gpu_random((size_t)B * g2 * C, 1.0f, &seed), *cls = gpu_random(C, 1.0f, &seed);
    float *reg = gpu_random((size_t)nreg * C, 1.0f, &seed), *pos = gpu_random((size_t)(1 + g2) * C, 1.0f, &seed);
    float *tref = malloc((size_t)B * N * C * sizeof(float)), *tgot = malloc((size_t)B * N * C * sizeof(float));
    float *mref = malloc((size_t)B * C * sizeof(float)), *mgot = malloc((size_t)B * C * sizeof(float));
    cpu->ops->tokens(cpu, tref, patches, cls, reg, pos, B, nreg, g2, C);
    cpu->ops->token_mean(cpu, mref, tref, B, N, 1 + nreg, C);
    FOR_EACH_SCHEDULE(s) {
        check_launch("im2col", cuda_im2col(got, px, B, R, P, NULL));
        check_close("im2col", s, ref, got, (size_t)B * g2 * K, (size_t)B * g2, 0.0);
        check_launch("tokens", cuda_tokens(tgot, patches, cls, reg, pos, B, nreg, g2, C, NULL));
        check_close("tokens", s, tref, tgot, (size_t)B * N * C, (size_t)B * N, 1e-6);
        check_launch("token_mean", cuda_token_mean(mgot, tref, B, N, 1 + nreg, C, NULL));
        check_close("token_mean", s, mref, mgot, (size_t)B * C, B, 1e-6);
    }
    free(px), free(ref), free(got), free(patches), free(cls), free(reg), free(pos);
    free(tref), free(tgot), free(mref), free(mgot);
}
END_TEST

int main(void) {
    Suite *s = suite_create("emu_kernels");
    struct {
        const char *name;
        const TTest *test;
    } cases[] = {
        {"layernorm", test_layernorm},
        {"elementwise", test_elementwise},
        {"patch_tokens", test_patch_tokens},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 600);
        tcase_add_test(tc, cases[i].test);
        suite_add_tcase(s, tc);
    }
    return test_run_suite(s, CK_VERBOSE);
}
