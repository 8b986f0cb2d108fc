/* The CUDA host pipeline (model/forward.c, backend/cuda/cuda_pipeline.c) on the GPU:
 *   - the normalize kernel against the CPU op: bit-identical (max abs error 0);
 *   - tiny-dino passes the way embed and bench run them (uint8 images from pinned memory, two
 *     slots, pass i+1 uploaded and submitted before pass i is collected, batch size and
 *     resolution changing, so graphs are captured, replayed and dropped) against the same model
 *     without graphs (WEBSSL_CUDA_GRAPHS=0): rel err <= 1e-6 of max |ref| (same kernels), and
 *     against the CPU backend on the host's floats: rel err <= 1e-4 (the f32 GPU tolerance).
 * Skips (exit 77) without a CUDA device. Also built against the emulated backend (tests/emu,
 * emu_cuda_pipeline), where it runs on the CPU. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "data/preprocess.h"
#include "gpu_common.h"
#include "test_main.h"
#include "webssl.h"

static uint8_t *random_u8(size_t n, uint64_t *seed, uint8_t *dst) {
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
        dst[i] = (uint8_t)(*seed >> 56);
    }
    return dst;
}

START_TEST(test_normalize) {
    ws_backend *cpu, *gpu;
    ck_assert_int_eq(backend_create("cpu", 2, 0, &cpu), WS_OK);
    ck_assert_msg(backend_create("cuda", 0, 0, &gpu) == WS_OK, "%s", ws_error_message());
    const int B = 5, R = 223;
    const size_t n = (size_t)B * 3 * R * R;
    const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    uint64_t seed = 3;
    uint8_t *u8 = random_u8(n, &seed, malloc(n));
    float *ref = malloc(n * sizeof(float));
    ck_assert_int_eq(cpu->ops->normalize(cpu, ref, u8, B, R, mean, std), WS_OK);
    uint8_t *d_u8 = gpu->ops->alloc(gpu, n);
    gpu->ops->upload(gpu, d_u8, u8, n);
    float *d_px = gpu_put(gpu, NULL, n);
    ck_assert_int_eq(gpu->ops->normalize(gpu, d_px, d_u8, B, R, mean, std), WS_OK);
    float *got = gpu_get(gpu, d_px, n);
    gpu_diff d = gpu_compare("normalize B=5 R=223", ref, got, n, (size_t)B * 3 * R);
    ck_assert_msg(memcmp(ref, got, n * sizeof(float)) == 0, "normalize: not bit-identical (max abs %.3e)", d.max_abs);
    gpu->ops->free(gpu, d_u8);
    gpu->ops->free(gpu, d_px);
    free(u8), free(ref), free(got);
    backend_free(gpu);
    backend_free(cpu);
}
END_TEST

enum { PASSES = 7, BMAX = 3, RMAX = 70, C = 48 };
static const int pass_B[PASSES] = {2, 2, 2, 3, 3, 2, 2}, pass_R[PASSES] = {56, 56, 56, 56, 70, 70, 56};

typedef struct {
    float cls[BMAX * C], mean[BMAX * C], patch[BMAX * 25 * C];
} outputs;

/* The passes on `device`, graphs on or off; images from pinned buffers, one per slot. */
static void run_passes(const char *device, int graphs, const uint8_t *const u8[PASSES], outputs *out) {
    if (!graphs) setenv("WEBSSL_CUDA_GRAPHS", "0", 1);
    ws_model_options o;
    ws_model_options_init(&o);
    o.device = device;
    ws_model *m = NULL;
    ck_assert_msg(ws_model_create_random(arch_builtin_find("tiny-dino"), 7, &o, &m) == WS_OK, "%s", ws_error_message());
    unsetenv("WEBSSL_CUDA_GRAPHS");
    const ws_arch *a = ws_model_arch(m);
    const size_t img = (size_t)RMAX * RMAX * 3;
    if (!strcmp(device, "cpu")) {   /* the reference: ws_model_forward on the host's floats */
        float *px = malloc(BMAX * img * sizeof(float));
        for (int i = 0; i < PASSES; i++) {
            const size_t plane = (size_t)pass_R[i] * pass_R[i] * 3;
            for (int b = 0; b < pass_B[i]; b++)
                preprocess_normalize(u8[i] + b * plane, pass_R[i], a->preprocess.mean, a->preprocess.std, px + b * plane);
            ws_features f = {out[i].cls, out[i].mean, out[i].patch};
            ck_assert_int_eq(ws_model_forward(m, px, pass_B[i], pass_R[i], &f), WS_OK);
        }
        free(px);
    } else {
        ws_backend *be = NULL;   /* a second CUDA backend, for pinned host buffers (host_alloc) */
        ck_assert_int_eq(backend_create("cuda", 0, 0, &be), WS_OK);
        uint8_t *pinned[2] = {be->ops->host_alloc(be, BMAX * img), be->ops->host_alloc(be, BMAX * img)};
        for (int i = 0; i <= PASSES; i++) {
            if (i < PASSES) {   /* upload and submit pass i while pass i-1 runs */
                const int s = i % 2;
                memcpy(pinned[s], u8[i], (size_t)pass_B[i] * pass_R[i] * pass_R[i] * 3);
                ck_assert_int_eq(ws_model_upload(m, s, NULL, pinned[s], a->preprocess.mean, a->preprocess.std,
                                                 pass_B[i], pass_R[i]), WS_OK);
                ws_features f = {out[i].cls, out[i].mean, out[i].patch};
                ck_assert_msg(ws_model_submit(m, s, &f) == WS_OK, "%s", ws_error_message());
            }
            if (i > 0) ck_assert_int_eq(ws_model_collect(m, (i - 1) % 2), WS_OK);
        }
        be->ops->host_free(be, pinned[0]);
        be->ops->host_free(be, pinned[1]);
        backend_free(be);
    }
    ws_model_free(m);
}

START_TEST(test_passes) {
    static outputs ref[PASSES], eager[PASSES], graphs[PASSES];
    uint8_t *u8[PASSES];
    uint64_t seed = 11;
    for (int i = 0; i < PASSES; i++) u8[i] = random_u8((size_t)BMAX * RMAX * RMAX * 3, &seed, malloc(BMAX * RMAX * RMAX * 3));
    run_passes("cpu", 0, (const uint8_t *const *)u8, ref);
    run_passes("cuda", 0, (const uint8_t *const *)u8, eager);
    run_passes("cuda", 1, (const uint8_t *const *)u8, graphs);
    for (int i = 0; i < PASSES; i++) {
        const size_t BC = (size_t)pass_B[i] * C, g2 = (size_t)(pass_R[i] / 14) * (pass_R[i] / 14);
        const float *r[3] = {ref[i].cls, ref[i].mean, ref[i].patch}, *e[3] = {eager[i].cls, eager[i].mean, eager[i].patch},
                    *g[3] = {graphs[i].cls, graphs[i].mean, graphs[i].patch};
        const char *names[3] = {"cls", "patch_mean", "patch"};
        for (int k = 0; k < 3; k++) {
            const size_t n = k == 2 ? BC * g2 : BC;
            char what[96];
            snprintf(what, sizeof what, "pass %d B=%d R=%d %s graphs vs eager", i, pass_B[i], pass_R[i], names[k]);
            gpu_diff d = gpu_compare(what, e[k], g[k], n, n / C);
            ck_assert_msg(d.rel <= 1e-6, "%s: rel err %.3e > 1e-6", what, d.rel);
            snprintf(what, sizeof what, "pass %d B=%d R=%d %s gpu vs cpu", i, pass_B[i], pass_R[i], names[k]);
            d = gpu_compare(what, r[k], g[k], n, n / C);
            ck_assert_msg(d.rel <= 1e-4, "%s: rel err %.3e > 1e-4", what, d.rel);
        }
    }
    for (int i = 0; i < PASSES; i++) free(u8[i]);
}
END_TEST

int main(void) {
    gpu_skip_without_device("test_cuda_pipeline");
    Suite *s = suite_create("cuda_pipeline");
    TCase *tc = tcase_create("pipeline");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_normalize);
    tcase_add_test(tc, test_passes);
    suite_add_tcase(s, tc);
    return test_run_suite(s, CK_VERBOSE);
}
