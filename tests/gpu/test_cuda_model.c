/* The whole model on the GPU against the CPU backend (same random weights, same pixels), for both
 * families, the head sizes 64, 80 and 128, the native and a non-native resolution, both position
 * embedding rules, f32 and bf16 compute. Prints the error per output tensor; fails past the
 * tolerances of model_compare.h (f32: GPU_F32_TOL). Skips (exit 77) without a CUDA device. */
#include <check.h>
#include <string.h>

#include "gpu_common.h"
#include "model_compare.h"
#include "webssl.h"
#include "test_main.h"

/* f32 tolerance, as max abs err / max |ref|: not measured yet (no GPU has run this test), so it
 * stays at 1e-4 until tests/gpu/device-check prints the errors; then set it to 3-5 times the
 * worst, as tests/emu/test_emu_cuda_model.c is (5e-6, measured 1.2e-6 on the emulated backend). */
#define GPU_F32_TOL 1e-4

typedef struct {
    const char *base;      /* built-in tiny architecture to start from */
    int C, NH, img, R;     /* embed dim, heads (hs = C / NH), native and run resolution */
    ws_posembed_rule rule;
} model_case;

static void run_case(const model_case *mc, ws_dtype dt) {
    ws_arch a;
    ck_assert_int_eq(arch_resolve(mc->base, &a), WS_OK);
    a.embed_dim = mc->C;
    a.num_heads = mc->NH;
    a.img_size = mc->img;
    a.ffn_hidden = arch_default_ffn_hidden(a.family, mc->C, 4.0);
    ck_assert_msg(arch_validate(&a) == WS_OK, "%s", ws_error_message());
    const int B = 2, R = mc->R, g = R / a.patch_size, C = a.embed_dim;
    uint64_t seed = 12345;
    float *pix = gpu_random((size_t)B * 3 * R * R, 2.0f, &seed);
    float *out[2][3];
    for (int dev = 0; dev < 2; dev++) {
        ws_model_options o;
        ws_model_options_init(&o);
        o.device = dev ? "cuda" : "cpu";
        o.compute = dt;
        o.posembed = mc->rule;
        ws_model *m = NULL;
        ck_assert_msg(ws_model_create_random(&a, 7, &o, &m) == WS_OK, "%s: %s", o.device, ws_error_message());
        for (int k = 0; k < 3; k++) out[dev][k] = malloc((size_t)B * (k == 2 ? g * g : 1) * C * sizeof(float));
        ws_features f = {out[dev][0], out[dev][1], out[dev][2]};
        ck_assert_msg(ws_model_forward(m, pix, B, R, &f) == WS_OK, "%s: %s", o.device, ws_error_message());
        ws_model_free(m);
    }
    char label[96];
    snprintf(label, sizeof label, "%s hs=%d R=%d %s", a.family == WS_FAMILY_DINO ? "dino" : "mae", C / mc->NH, R,
             mc->rule == WS_POSEMBED_HF ? "hf" : "original");
    model_compare_outputs(label, dt, GPU_F32_TOL, out, B, g * g, C);
    free(pix);
}

static const model_case cases[] = {
    {"tiny-dino", 256, 4, 224, 224, WS_POSEMBED_HF},         /* hs 64, N 257, native */
    {"tiny-dino", 256, 2, 224, 280, WS_POSEMBED_ORIGINAL},   /* hs 128, 20 x 20 grid */
    {"tiny-mae", 160, 2, 224, 224, WS_POSEMBED_HF},          /* hs 80, patch 16, N 197 */
    {"tiny-mae", 256, 4, 224, 160, WS_POSEMBED_HF},          /* hs 64, smaller than native */
};

START_TEST(test_model_f32) { run_case(&cases[_i], WS_DTYPE_F32); }
END_TEST

START_TEST(test_model_bf16) { run_case(&cases[_i], WS_DTYPE_BF16); }
END_TEST

int main(void) {
    gpu_skip_without_device("test_cuda_model");
    Suite *s = suite_create("cuda_model");
    TCase *tc = tcase_create("model");
    tcase_set_timeout(tc, 120);
    const int n = (int)(sizeof cases / sizeof cases[0]);
    tcase_add_loop_test(tc, test_model_f32, 0, n);
    tcase_add_loop_test(tc, test_model_bf16, 0, n);
    suite_add_tcase(s, tc);
    return test_run_suite(s, CK_VERBOSE);
}
