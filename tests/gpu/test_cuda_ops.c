/* Each CUDA backend op against its CPU twin (the reference) on random inputs, at the shapes of
 * the published models' head sizes (64, 80, 128) and token counts (197, 257, tails of tiles):
 * prints max abs and relative error per op and fails past the tolerance stated at each check.
 * Skips (exit 77) without a CUDA device. */
#include <check.h>
#include <string.h>

#include "gpu_common.h"
#include "test_main.h"

static ws_backend *cpu, *gpu;
static uint64_t seed = 0x9e3779b97f4a7c15ull;

static void setup(void) {
    ck_assert_int_eq(backend_create("cpu", 2, 0, &cpu), WS_OK);
    ck_assert_msg(backend_create("cuda", 0, 0, &gpu) == WS_OK, "%s", ws_error_message());
}

static void teardown(void) {
    backend_free(gpu);
    backend_free(cpu);
}

/* Run one op on both backends: inputs are host arrays uploaded to each; `out_n` outputs compared. */
static void check_matmul(ws_dtype wdt, int M, int N, int K, int bias, double tol) {
    float *in = gpu_random((size_t)M * K, 1.0f, &seed), *wf = gpu_random((size_t)N * K, 0.1f, &seed);
    float *b = bias ? gpu_random((size_t)N, 0.5f, &seed) : NULL;
    size_t wbytes = (size_t)N * K * ws_dtype_size(wdt);
    void *w = malloc(wbytes);
    ws_convert_from_f32(w, wdt, wf, (size_t)N * K);
    float *ref = malloc((size_t)M * N * sizeof(float));
    cpu->ops->matmul(cpu, ref, in, w, wdt, b, M, N, K);

    float *d_in = gpu_put(gpu, in, (size_t)M * K), *d_b = b ? gpu_put(gpu, b, N) : NULL;
    float *d_out = gpu_put(gpu, NULL, (size_t)M * N);
    void *d_w = gpu->ops->alloc(gpu, wbytes);
    gpu->ops->upload(gpu, d_w, w, wbytes);
    gpu->ops->matmul(gpu, d_out, d_in, d_w, wdt, d_b, M, N, K);
    float *got = gpu_get(gpu, d_out, (size_t)M * N);
    char name[96];
    snprintf(name, sizeof name, "matmul %s M=%d N=%d K=%d%s", ws_dtype_name(wdt), M, N, K, bias ? " +bias" : "");
    gpu_diff d = gpu_compare(name, ref, got, (size_t)M * N, M);
    ck_assert_msg(d.rel <= tol, "%s: rel err %.3e > %.1e", name, d.rel, tol);
    gpu->ops->free(gpu, d_in);
    gpu->ops->free(gpu, d_b);
    gpu->ops->free(gpu, d_out);
    gpu->ops->free(gpu, d_w);
    free(in), free(wf), free(b), free(w), free(ref), free(got);
}

START_TEST(test_matmul) {
    /* f32: cuBLAS vs OpenBLAS, both f32 accumulation: 1e-5 of max |ref|. bf16: both round the
     * input to bf16, products exact in f32, only the summation order differs: 1e-4. */
    check_matmul(WS_DTYPE_F32, 257, 192, 64, 1, 1e-5);
    check_matmul(WS_DTYPE_F32, 100, 33, 17, 0, 1e-5);
    check_matmul(WS_DTYPE_BF16, 514, 384, 256, 1, 1e-4);
    check_matmul(WS_DTYPE_BF16, 197, 160, 80, 0, 1e-4);
}
END_TEST

START_TEST(test_layernorm) {
    const int M = 301, C = 1536;
    float *x = gpu_random((size_t)M * C, 3.0f, &seed), *w = gpu_random(C, 1.0f, &seed), *b = gpu_random(C, 1.0f, &seed);
    for (int i = 0; i < M * C; i++) x[i] += 1.0f;   /* a non-zero mean */
    float *ref = malloc((size_t)M * C * sizeof(float));
    cpu->ops->layernorm(cpu, ref, x, w, b, M, C, 1e-6f);
    float *dx = gpu_put(gpu, x, (size_t)M * C), *dw = gpu_put(gpu, w, C), *db = gpu_put(gpu, b, C);
    gpu->ops->layernorm(gpu, dx, dx, dw, db, M, C, 1e-6f);   /* in place, as the contract allows */
    float *got = gpu_get(gpu, dx, (size_t)M * C);
    gpu_diff d = gpu_compare("layernorm M=301 C=1536 (in place)", ref, got, (size_t)M * C, M);
    ck_assert_msg(d.rel <= 1e-5, "layernorm rel err %.3e > 1e-5", d.rel);
    gpu->ops->free(gpu, dx), gpu->ops->free(gpu, dw), gpu->ops->free(gpu, db);
    free(x), free(w), free(b), free(ref), free(got);
}
END_TEST

START_TEST(test_elementwise) {
    const int M = 77, H = 1000, C = 384;
    /* gelu */
    float *x = gpu_random((size_t)M * H, 4.0f, &seed), *ref = malloc((size_t)M * H * sizeof(float));
    memcpy(ref, x, (size_t)M * H * sizeof(float));
    cpu->ops->gelu(cpu, ref, (size_t)M * H);
    float *dx = gpu_put(gpu, x, (size_t)M * H);
    gpu->ops->gelu(gpu, dx, (size_t)M * H);
    float *got = gpu_get(gpu, dx, (size_t)M * H);
    gpu_diff d = gpu_compare("gelu n=77000", ref, got, (size_t)M * H, 1);
    ck_assert_msg(d.rel <= 1e-6, "gelu rel err %.3e > 1e-6", d.rel);
    gpu->ops->free(gpu, dx), free(x), free(ref), free(got);

    /* swiglu */
    float *in = gpu_random((size_t)M * 2 * H, 4.0f, &seed);
    ref = malloc((size_t)M * H * sizeof(float));
    cpu->ops->swiglu(cpu, ref, in, M, H);
    float *din = gpu_put(gpu, in, (size_t)M * 2 * H), *dout = gpu_put(gpu, NULL, (size_t)M * H);
    gpu->ops->swiglu(gpu, dout, din, M, H);
    got = gpu_get(gpu, dout, (size_t)M * H);
    d = gpu_compare("swiglu M=77 H=1000", ref, got, (size_t)M * H, 1);
    ck_assert_msg(d.rel <= 1e-6, "swiglu rel err %.3e > 1e-6", d.rel);
    gpu->ops->free(gpu, din), gpu->ops->free(gpu, dout), free(in), free(ref), free(got);

    /* residual with and without bias / LayerScale */
    for (int variant = 0; variant < 3; variant++) {
        float *xr = gpu_random((size_t)M * C, 1.0f, &seed), *y = gpu_random((size_t)M * C, 1.0f, &seed);
        float *bias = variant ? gpu_random(C, 1.0f, &seed) : NULL, *gamma = variant == 2 ? gpu_random(C, 1.0f, &seed) : NULL;
        float *dxr = gpu_put(gpu, xr, (size_t)M * C), *dy = gpu_put(gpu, y, (size_t)M * C);
        float *dbias = bias ? gpu_put(gpu, bias, C) : NULL, *dgamma = gamma ? gpu_put(gpu, gamma, C) : NULL;
        cpu->ops->residual(cpu, xr, y, bias, gamma, M, C);
        gpu->ops->residual(gpu, dxr, dy, dbias, dgamma, M, C);
        got = gpu_get(gpu, dxr, (size_t)M * C);
        const char *names[] = {"residual", "residual +bias", "residual +bias +layerscale"};
        d = gpu_compare(names[variant], xr, got, (size_t)M * C, 1);
        ck_assert_msg(d.rel <= 1e-6, "%s rel err %.3e > 1e-6", names[variant], d.rel);
        gpu->ops->free(gpu, dxr), gpu->ops->free(gpu, dy), gpu->ops->free(gpu, dbias), gpu->ops->free(gpu, dgamma);
        free(xr), free(y), free(bias), free(gamma), free(got);
    }
}
END_TEST

START_TEST(test_patch_tokens) {
    const int B = 2, R = 70, P = 14, g = R / P, g2 = g * g, C = 96, nreg = 4, N = 1 + nreg + g2, K = 3 * P * P;
    /* im2col: exact */
    float *pix = gpu_random((size_t)B * 3 * R * R, 2.0f, &seed), *ref = malloc((size_t)B * g2 * K * sizeof(float));
    cpu->ops->im2col(cpu, ref, pix, B, R, P);
    float *dpix = gpu_put(gpu, pix, (size_t)B * 3 * R * R), *dcols = gpu_put(gpu, NULL, (size_t)B * g2 * K);
    gpu->ops->im2col(gpu, dcols, dpix, B, R, P);
    float *got = gpu_get(gpu, dcols, (size_t)B * g2 * K);
    gpu_diff d = gpu_compare("im2col B=2 R=70 P=14", ref, got, (size_t)B * g2 * K, 1);
    ck_assert_msg(d.max_abs == 0.0, "im2col differs");
    gpu->ops->free(gpu, dpix), gpu->ops->free(gpu, dcols), free(pix), free(ref), free(got);

    /* token assembly (with registers) and the patch mean */
    float *patches = gpu_random((size_t)B * g2 * C, 1.0f, &seed), *cls = gpu_random(C, 1.0f, &seed);
    float *reg = gpu_random((size_t)nreg * C, 1.0f, &seed), *pos = gpu_random((size_t)(1 + g2) * C, 1.0f, &seed);
    ref = malloc((size_t)B * N * C * sizeof(float));
    cpu->ops->tokens(cpu, ref, patches, cls, reg, pos, B, nreg, g2, C);
    float *dp = gpu_put(gpu, patches, (size_t)B * g2 * C), *dc = gpu_put(gpu, cls, C);
    float *dr = gpu_put(gpu, reg, (size_t)nreg * C), *dpos = gpu_put(gpu, pos, (size_t)(1 + g2) * C);
    float *dx = gpu_put(gpu, NULL, (size_t)B * N * C);
    gpu->ops->tokens(gpu, dx, dp, dc, dr, dpos, B, nreg, g2, C);
    got = gpu_get(gpu, dx, (size_t)B * N * C);
    d = gpu_compare("tokens B=2 nreg=4 g2=25", ref, got, (size_t)B * N * C, 1);
    ck_assert_msg(d.max_abs == 0.0, "tokens differ");
    float mref[2 * 96], *dm = gpu_put(gpu, NULL, (size_t)B * C);
    cpu->ops->token_mean(cpu, mref, ref, B, N, 1 + nreg, C);
    gpu->ops->token_mean(gpu, dm, dx, B, N, 1 + nreg, C);
    float *mgot = gpu_get(gpu, dm, (size_t)B * C);
    d = gpu_compare("token_mean", mref, mgot, (size_t)B * C, 1);
    ck_assert_msg(d.rel <= 1e-6, "token_mean rel err %.3e > 1e-6", d.rel);
    gpu->ops->free(gpu, dp), gpu->ops->free(gpu, dc), gpu->ops->free(gpu, dr), gpu->ops->free(gpu, dpos);
    gpu->ops->free(gpu, dx), gpu->ops->free(gpu, dm);
    free(patches), free(cls), free(reg), free(pos), free(ref), free(got), free(mgot);
}
END_TEST

static void check_attention(int B, int N, int NH, int hs, int round_bf16, double tol) {
    const size_t Cl = (size_t)NH * hs, nq = (size_t)B * N * 3 * Cl, no = (size_t)B * N * Cl;
    float *qkv = gpu_random(nq, 2.0f, &seed), *ref = malloc(no * sizeof(float));
    cpu->ops->attention(cpu, ref, qkv, B, N, NH, hs, round_bf16);
    float *dq = gpu_put(gpu, qkv, nq), *dout = gpu_put(gpu, NULL, no);
    gpu->ops->attention(gpu, dout, dq, B, N, NH, hs, round_bf16);
    float *got = gpu_get(gpu, dout, no);
    char name[96];
    snprintf(name, sizeof name, "attention %s B=%d N=%d NH=%d hs=%d", round_bf16 ? "bf16" : "f32", B, N, NH, hs);
    gpu_diff d = gpu_compare(name, ref, got, no, (size_t)B * N * NH);
    ck_assert_msg(d.rel <= tol, "%s: rel err %.3e > %.1e", name, d.rel, tol);
    gpu->ops->free(gpu, dq), gpu->ops->free(gpu, dout);
    free(qkv), free(ref), free(got);
}

START_TEST(test_attention) {
    /* f32: same math, another summation order and an online softmax: 1e-4 of max |ref|.
     * bf16: the flash kernel rounds unnormalised probabilities (the CPU normalised ones): 2e-2. */
    const int hs[] = {64, 80, 128, 48};
    const int Ns[] = {257, 197, 50};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++) {
            check_attention(2, Ns[j], 3, hs[i], 0, 1e-4);
            check_attention(2, Ns[j], 3, hs[i], 1, 2e-2);
        }
}
END_TEST

int main(void) {
    gpu_skip_without_device("test_cuda_ops");
    Suite *s = suite_create("cuda_ops");
    /* One case per op family, so that CK_RUN_CASE runs one (the compute-sanitizer tests do). */
    struct {
        const char *name;
        const TTest *test;
    } cases[] = {
        {"matmul", test_matmul},         {"layernorm", test_layernorm}, {"elementwise", test_elementwise},
        {"patch_tokens", test_patch_tokens}, {"attention", test_attention},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 300);
        tcase_add_test(tc, cases[i].test);
        suite_add_tcase(s, tc);
    }
    return test_run_suite(s, CK_VERBOSE);
}
