/* The uint8 normalisation kernel (src/backend/cuda/normalize.cu) run on the CPU by the kernel
 * emulator: the op list's normalize cases (tests/backend/op_cases.c: odd sides and batch sizes,
 * every uint8 value, ImageNet and odd mean/std) whose emu_case is "normalize", on the emulated CUDA
 * backend under every thread schedule with poisoned outputs, against the CPU backend's normalize
 * op with tolerance 0, so moving normalisation to the device changes no embedding
 * (backend_ops_cpu holds the CPU op to the host pipeline's floats, data/preprocess.c, the same
 * way). */
#include <check.h>

#include "emu_check.h"

START_TEST(test_normalize) { emu_check_cases("normalize"); }
END_TEST

int main(void) {
    const test_case cases[] = {{"normalize", test_normalize}};
    return test_run_cases("emu_pixels", cases, 1, NULL, NULL, 300);
}
