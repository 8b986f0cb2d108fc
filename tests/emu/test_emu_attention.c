/* The attention kernels of src/backend/cuda/attention_flash.cu, run on the CPU by the kernel
 * emulator (cuda_emu.h): the op list's attention cases (tests/backend/op_cases.c) whose emu_case
 * names a test case below, on the emulated CUDA backend against the CPU backend, under every
 * thread schedule, with poisoned outputs (emu_check_cases), at the list's tolerances (max abs
 * error / max |ref| 2e-2 with bf16 rounding, 1e-4 in exact f32, a bf16 output one rounding more).
 * A mismatch fails with "> tolerance", a failed launch with the emulator's reason. One test case
 * per kernel and length, so that CK_RUN_CASE picks one (the planted-defect tests in CMakeLists.txt
 * run the short ones): attention_mma and attention_mma_long (the tensor-core kernel; the long one
 * is left out of the sanitizer build), attention_simt (the CUDA-core kernel). The arguments the
 * launcher refuses are test_emu_kernels.c's. */
#include <check.h>

#include "emu_check.h"

START_TEST(test_attention_mma) { emu_check_cases("attention_mma"); }
END_TEST

START_TEST(test_attention_mma_long) { emu_check_cases("attention_mma_long"); }
END_TEST

START_TEST(test_attention_simt) { emu_check_cases("attention_simt"); }
END_TEST

int main(void) {
    const test_case cases[] = {
        {"attention_mma", test_attention_mma},
        {"attention_mma_long", test_attention_mma_long},
        {"attention_simt", test_attention_simt},
    };
    return test_run_cases("emu_attention", cases, sizeof cases / sizeof cases[0], NULL, NULL, 600);
}
