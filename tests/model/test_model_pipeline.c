/* The forward pass in steps (webssl.h: ws_model_upload / submit / collect) on the CPU backend
 * against ws_model_forward on the host pipeline's floats, on tiny-dino with random weights:
 *   - uint8 images normalised by the backend give bit-identical CLS, patch mean and patch tokens
 *     (max abs error printed, must be 0): moving normalisation off the host changes nothing;
 *   - two input slots used the way embed and bench use them (batch i+1 uploaded and submitted
 *     before batch i is collected, batch sizes changing) give each batch its own results;
 *   - misuse is an error that says what is wrong, never a crash. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "common/arch.h"
#include "data/preprocess.h"
#include "test_main.h"
#include "webssl.h"

enum { BMAX = 3 };

typedef struct {
    float cls[BMAX * 48], mean[BMAX * 48], patch[BMAX * 16 * 48];
} outputs;

static ws_model *model;
static const ws_arch *arch;
static uint8_t u8[2][BMAX * 56 * 56 * 3];
static float px[2][BMAX * 3 * 56 * 56];

static void setup(void) {
    arch = arch_builtin_find("tiny-dino");
    ck_assert_ptr_nonnull(arch);
    ws_model_options o;
    ws_model_options_init(&o);
    o.threads = 1;
    ck_assert_int_eq(ws_model_create_random(arch, 7, &o, &model), WS_OK);
    ck_assert_int_eq(ws_model_input_u8(model), 0);   /* CPU: the host's floats are cheaper */
    uint64_t x = 99;
    const size_t plane = 56 * 56 * 3;
    for (int s = 0; s < 2; s++) {
        for (size_t i = 0; i < sizeof u8[s]; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            u8[s][i] = (uint8_t)(x >> 56);
        }
        for (int b = 0; b < BMAX; b++)
            preprocess_normalize(u8[s] + b * plane, 56, arch->preprocess.mean, arch->preprocess.std, px[s] + b * plane);
    }
}

static void teardown(void) { ws_model_free(model); }

static void expect_same(const char *what, const float *ref, const float *got, size_t n) {
    double max_abs = 0;
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        bad += memcmp(&ref[i], &got[i], sizeof(float)) != 0;
        double d = fabs((double)ref[i] - got[i]);
        max_abs = d > max_abs ? d : max_abs;
    }
    printf("%-36s max abs err %.3e, %zu of %zu differ in their bits\n", what, max_abs, bad, n);
    ck_assert_msg(bad == 0, "%s: %zu of %zu values differ", what, bad, n);
}

static void expect_outputs(const char *what, const outputs *ref, const outputs *got, int B) {
    char name[96];
    const size_t BC = (size_t)B * 48;
    snprintf(name, sizeof name, "%s cls", what);
    expect_same(name, ref->cls, got->cls, BC);
    snprintf(name, sizeof name, "%s patch_mean", what);
    expect_same(name, ref->mean, got->mean, BC);
    snprintf(name, sizeof name, "%s patch", what);
    expect_same(name, ref->patch, got->patch, BC * 16);
}

static ws_features features(outputs *o) { return (ws_features){o->cls, o->mean, o->patch}; }

START_TEST(test_u8_matches_floats) {
    static outputs ref, got;
    ws_features f = features(&ref), g = features(&got);
    ck_assert_int_eq(ws_model_forward(model, px[0], BMAX, 56, &f), WS_OK);
    const float *mean = arch->preprocess.mean, *std = arch->preprocess.std;
    ck_assert_int_eq(ws_model_upload(model, 1, NULL, u8[0], mean, std, BMAX, 56), WS_OK);
    ck_assert_int_eq(ws_model_submit(model, 1, &g), WS_OK);
    ck_assert_int_eq(ws_model_collect(model, 1), WS_OK);
    expect_outputs("uint8 vs floats", &ref, &got, BMAX);
}
END_TEST

START_TEST(test_two_slots_overlapped) {
    static outputs ref[2], got[2];
    const int Bs[2] = {BMAX, 2};
    for (int s = 0; s < 2; s++) {
        ws_features f = features(&ref[s]);
        ck_assert_int_eq(ws_model_forward(model, px[s], Bs[s], 56, &f), WS_OK);
    }
    const float *mean = arch->preprocess.mean, *std = arch->preprocess.std;
    ws_features g0 = features(&got[0]), g1 = features(&got[1]);
    ck_assert_int_eq(ws_model_upload(model, 0, NULL, u8[0], mean, std, Bs[0], 56), WS_OK);
    ck_assert_int_eq(ws_model_submit(model, 0, &g0), WS_OK);
    ck_assert_int_eq(ws_model_upload(model, 1, px[1], NULL, NULL, NULL, Bs[1], 56), WS_OK);
    ck_assert_int_eq(ws_model_submit(model, 1, &g1), WS_OK);
    ck_assert_int_eq(ws_model_collect(model, 0), WS_OK);
    ck_assert_int_eq(ws_model_collect(model, 1), WS_OK);
    expect_outputs("slot 0 (uint8, B=3)", &ref[0], &got[0], Bs[0]);
    expect_outputs("slot 1 (floats, B=2)", &ref[1], &got[1], Bs[1]);
}
END_TEST

START_TEST(test_misuse) {
    static outputs o;
    ws_features f = features(&o);
    const float *mean = arch->preprocess.mean, *std = arch->preprocess.std;
    ck_assert_int_eq(ws_model_upload(model, 2, px[0], NULL, NULL, NULL, 1, 56), WS_ERR_ARG);
    ck_assert_int_eq(ws_model_upload(model, 0, NULL, NULL, mean, std, 1, 56), WS_ERR_ARG);
    ck_assert_int_eq(ws_model_upload(model, 0, px[0], u8[0], mean, std, 1, 56), WS_ERR_ARG);
    ck_assert_int_eq(ws_model_upload(model, 0, NULL, u8[0], NULL, NULL, 1, 56), WS_ERR_ARG);
    ck_assert_int_eq(ws_model_upload(model, 0, px[0], NULL, NULL, NULL, 0, 56), WS_ERR_ARG);
    ck_assert_int_eq(ws_model_upload(model, 0, px[0], NULL, NULL, NULL, 1, 50), WS_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(ws_error_message(), "50"));
    ck_assert_int_eq(ws_model_submit(model, 1, &f), WS_ERR_ARG);   /* nothing uploaded */
    ck_assert_int_eq(ws_model_collect(model, 0), WS_ERR_ARG);      /* nothing submitted */
    ck_assert_int_eq(ws_model_collect(model, 2), WS_ERR_ARG);
    ck_assert_int_eq(ws_model_upload(model, 0, px[0], NULL, NULL, NULL, 1, 56), WS_OK);
    ck_assert_int_eq(ws_model_submit(model, 0, &f), WS_OK);
    ck_assert_int_eq(ws_model_submit(model, 0, &f), WS_ERR_ARG);   /* one pass per slot at a time */
    ck_assert_int_eq(ws_model_collect(model, 0), WS_OK);
}
END_TEST

int main(void) {
    Suite *s = suite_create("model_pipeline");
    TCase *tc = tcase_create("pipeline");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_u8_matches_floats);
    tcase_add_test(tc, test_two_slots_overlapped);
    tcase_add_test(tc, test_misuse);
    suite_add_tcase(s, tc);
    return test_run_suite(s, CK_VERBOSE);
}
