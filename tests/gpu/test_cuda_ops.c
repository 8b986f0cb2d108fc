/* Every CUDA backend op against its CPU twin: the cases of the one op list
 * (tests/backend/op_cases.c: the published models' head sizes 64, 80, 128, token counts 197, 257
 * and tails of tiles, f32 and bf16 activations, epilogues, a tensor-parallel rank's shapes), each
 * printing its max abs and relative error against the twin and against the double-precision
 * reference, and failing past the tolerance the list states. Every op must return WS_OK. Skips
 * (exit 77) without a CUDA device. Also built against the emulated backend (tests/emu,
 * emu_cuda_ops), where it runs on the CPU and leaves the cases with an emu_case to the emulator's
 * kernel tests. One test case per op family, so that CK_RUN_CASE runs one (the compute-sanitizer
 * tests do). */
#include <check.h>
#include <string.h>

#include "backend/op_cases.h"
#include "gpu_common.h"
#include "test_main.h"

static ws_backend *cpu, *gpu;

static void setup(void) {
    ck_assert_int_eq(backend_create("cpu", 2, 0, &cpu), WS_OK);
    ck_assert_msg(backend_create("cuda", 0, 0, &gpu) == WS_OK, "%s", ws_error_message());
}

static void teardown(void) {
    backend_free(gpu);
    backend_free(cpu);
}

/* Every case of one family of the list (over the emulated backend, those the emulator's kernel
 * tests run under every thread schedule are theirs: tests/emu/emu_check.h). */
static void check_family(const char *family) {
    size_t n, ran = 0;
    const op_case *cases = op_cases(&n);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(cases[i].family, family)) continue;
#ifdef WEBSSL_CUDA_EMU
        if (cases[i].emu_case) continue;
#endif
        char why[400];
        ck_assert_msg(op_case_check(&cases[i], gpu, cpu, NULL, why, sizeof why) == 0, "%s", why);
        ran++;
    }
    ck_assert_msg(ran > 0, "no %s cases in the op list", family);
}

START_TEST(test_matmul) { check_family("matmul"); }
END_TEST
START_TEST(test_layernorm) { check_family("layernorm"); }
END_TEST
START_TEST(test_residual_layernorm) { check_family("residual_layernorm"); }
END_TEST
START_TEST(test_swiglu) { check_family("swiglu"); }
END_TEST
START_TEST(test_patch_tokens) { check_family("patch_tokens"); }
END_TEST
START_TEST(test_attention) { check_family("attention"); }
END_TEST
START_TEST(test_row_argmax) { check_family("row_argmax"); }
END_TEST
START_TEST(test_normalize) { check_family("normalize"); }
END_TEST

int main(void) {
    gpu_skip_without_device("test_cuda_ops");
    const test_case cases[] = {
        {"matmul", test_matmul},       {"layernorm", test_layernorm},       {"residual_layernorm", test_residual_layernorm},
        {"swiglu", test_swiglu},       {"patch_tokens", test_patch_tokens}, {"attention", test_attention},
        {"row_argmax", test_row_argmax}, {"normalize", test_normalize},
    };
    return test_run_cases("cuda_ops", cases, sizeof cases / sizeof cases[0], setup, teardown, 300);
}
