/* The uint8 normalisation kernel (src/backend/cuda/normalize.cu) run on the CPU by the kernel
 * emulator under each thread schedule, and the CPU backend's normalize op, against the host
 * pipeline's normalisation (data/preprocess.c, the floats embed used before the device did it):
 * the results must be bit-identical (max abs error 0), so moving normalisation to the device
 * changes no embedding. Odd sides and batch sizes, every uint8 value, ImageNet and odd
 * mean/std. */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/cuda/cuda_kernels.h"
#include "common/error.h"
#include "data/preprocess.h"
#include "emu_control.h"
#include "test_main.h"

/* Count of elements that differ in their bits; prints the max abs difference. */
static size_t bit_diffs(const char *what, const float *ref, const float *got, size_t n) {
    size_t bad = 0;
    double max_abs = 0;
    for (size_t i = 0; i < n; i++) {
        if (memcmp(&ref[i], &got[i], sizeof(float)) != 0) bad++;
        double d = ref[i] > got[i] ? ref[i] - got[i] : got[i] - ref[i];
        if (d > max_abs) max_abs = d;
    }
    printf("%-44s max abs err %.3e, %zu of %zu elements differ in their bits\n", what, max_abs, bad, n);
    return bad;
}

static void check_case(int B, int R, const float mean[3], const float std[3], uint64_t seed) {
    const size_t plane = (size_t)R * R, n = (size_t)B * 3 * plane;
    uint8_t *u8 = malloc(n);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        u8[i] = i < 256 ? (uint8_t)i : (uint8_t)(seed >> 56);   /* every value at least once */
    }
    float *ref = malloc(n * sizeof(float)), *got = malloc(n * sizeof(float));
    for (int b = 0; b < B; b++) preprocess_normalize(u8 + (size_t)b * 3 * plane, R, mean, std, ref + (size_t)b * 3 * plane);
    char what[120];

    ws_backend *cpu;
    ck_assert_int_eq(backend_cpu_create(1, &cpu), WS_OK);
    memset(got, 0xff, n * sizeof(float));
    ck_assert_int_eq(cpu->ops->normalize(cpu, got, u8, B, R, mean, std), WS_OK);
    snprintf(what, sizeof what, "cpu normalize B=%d R=%d", B, R);
    ck_assert_msg(bit_diffs(what, ref, got, n) == 0, "%s: not bit-identical to the host pipeline", what);
    backend_free(cpu);

    for (emu_schedule s = EMU_SCHEDULE_FORWARD; s < EMU_SCHEDULES; s = (emu_schedule)(s + 1)) {
        emu_set_schedule(s, 0x5eed + (uint64_t)s);
        memset(got, 0xff, n * sizeof(float));
        cudaError_t rc = cuda_normalize(got, u8, B, R, mean, std, NULL);
        ck_assert_msg(rc == cudaSuccess, "normalize: launch failed (%d): %s", (int)rc, emu_last_failure());
        snprintf(what, sizeof what, "cuda normalize B=%d R=%d [%s]", B, R, emu_schedule_name(s));
        ck_assert_msg(bit_diffs(what, ref, got, n) == 0, "%s: not bit-identical to the host pipeline", what);
    }
    free(u8), free(ref), free(got);
}

START_TEST(test_normalize) {
    const float in_mean[3] = {0.485f, 0.456f, 0.406f}, in_std[3] = {0.229f, 0.224f, 0.225f};
    const float odd_mean[3] = {0.5f, 0.0f, 1.0f / 3.0f}, odd_std[3] = {0.5f, 1.0f, 0.017f};
    check_case(1, 16, in_mean, in_std, 1);
    check_case(3, 15, in_mean, in_std, 2);   /* 675 pixels per image: the last block partly idle */
    check_case(2, 23, odd_mean, odd_std, 3);
}
END_TEST

int main(void) {
    Suite *s = suite_create("emu_pixels");
    TCase *tc = tcase_create("normalize");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_normalize);
    suite_add_tcase(s, tc);
    return test_run_suite(s, CK_VERBOSE);
}
