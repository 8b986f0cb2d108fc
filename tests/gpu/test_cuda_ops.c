/* Each CUDA backend op against its CPU twin (the reference) on random inputs, at the shapes of
 * the published models' head sizes (64, 80, 128) and token counts (197, 257, tails of tiles), in
 * f32 and with bf16 activations: prints max abs and relative error per op and fails past the
 * tolerance stated at each check. Every op must return WS_OK. Skips (exit 77) without a CUDA
 * device. Also built against the emulated backend (tests/emu, emu_cuda_ops), where it runs on the
 * CPU. */
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

#define OK(call) ck_assert_msg((call) == WS_OK, "%s: %s", #call, ws_error_message())

/* Host copy of x[n] stored as dt (the CPU twin's input). */
static void *host_dt(const float *x, size_t n, ws_dtype dt) {
    void *h = malloc(n * ws_dtype_size(dt));
    ws_convert_from_f32(h, dt, x, n);
    return h;
}

/* Host buffer p[n] of dtype dt as floats (frees p). */
static float *host_f32(void *p, size_t n, ws_dtype dt) {
    float *x = malloc(n * sizeof(float));
    ws_convert_to_f32(x, p, dt, n);
    free(p);
    return x;
}

/* A bf16 result may differ from its twin by one bf16 rounding: one ulp, which is 2^-8 to 2^-7 of the
 * value (2^-7 just above a power of two), so up to 2^-7 of max |ref|. */
static double tol_for(ws_dtype dt, double tol) { return dt == WS_DTYPE_BF16 ? tol + 1.0 / 128 : tol; }

static void check_matmul(ws_dtype wdt, ws_dtype adt, ws_dtype odt, ws_epilogue epi, int M, int N, int K, int bias,
                         double tol) {
    float *in = gpu_random((size_t)M * K, 1.0f, &seed), *wf = gpu_random((size_t)N * K, 0.1f, &seed);
    float *b = bias ? gpu_random((size_t)N, 0.5f, &seed) : NULL;
    size_t wbytes = (size_t)N * K * ws_dtype_size(wdt);
    void *w = host_dt(wf, (size_t)N * K, wdt), *hin = host_dt(in, (size_t)M * K, adt);
    void *href = malloc((size_t)M * N * ws_dtype_size(odt));
    OK(cpu->ops->matmul(cpu, href, odt, hin, adt, w, wdt, b, epi, M, N, K));
    float *ref = host_f32(href, (size_t)M * N, odt);

    void *d_in = gpu_put_dt(gpu, in, (size_t)M * K, adt), *d_out = gpu_put_dt(gpu, NULL, (size_t)M * N, odt);
    float *d_b = b ? gpu_put(gpu, b, N) : NULL;
    void *d_w = gpu->ops->alloc(gpu, wbytes);
    gpu->ops->upload(gpu, d_w, w, wbytes);
    OK(gpu->ops->matmul(gpu, d_out, odt, d_in, adt, d_w, wdt, d_b, epi, M, N, K));
    float *got = gpu_get_dt(gpu, d_out, (size_t)M * N, odt);
    char name[128];
    snprintf(name, sizeof name, "matmul w %s in %s out %s%s M=%d N=%d K=%d%s", ws_dtype_name(wdt),
             ws_dtype_name(adt), ws_dtype_name(odt), epi == WS_EPILOGUE_GELU ? " gelu" : "", M, N, K,
             bias ? " +bias" : "");
    gpu_diff d = gpu_compare(name, ref, got, (size_t)M * N, M);
    ck_assert_msg(d.rel <= tol_for(odt, tol), "%s: rel err %.3e > %.1e", name, d.rel, tol_for(odt, tol));
    gpu->ops->free(gpu, d_in), gpu->ops->free(gpu, d_b), gpu->ops->free(gpu, d_out), gpu->ops->free(gpu, d_w);
    free(in), free(wf), free(b), free(w), free(hin), free(ref), free(got);
}

START_TEST(test_matmul) {
    /* f32: cuBLAS vs OpenBLAS, both f32 accumulation: 1e-5 of max |ref|. bf16: both round the
     * input to bf16, products exact in f32, only the summation order differs: 1e-4 (plus one
     * rounding for a bf16 output). GELU with a bf16 output is cuBLASLt's tanh form: 4.7e-4 from
     * erf at most. */
    const ws_dtype f = WS_DTYPE_F32, h = WS_DTYPE_BF16;
    check_matmul(f, f, f, WS_EPILOGUE_NONE, 257, 192, 64, 1, 1e-5);
    check_matmul(f, f, f, WS_EPILOGUE_NONE, 100, 33, 17, 0, 1e-5);
    check_matmul(f, f, f, WS_EPILOGUE_GELU, 257, 192, 64, 1, 1e-5);
    check_matmul(h, f, f, WS_EPILOGUE_NONE, 514, 384, 256, 1, 1e-4);
    check_matmul(h, f, f, WS_EPILOGUE_NONE, 197, 160, 80, 0, 1e-4);
    check_matmul(h, h, h, WS_EPILOGUE_NONE, 514, 384, 256, 1, 1e-4);
    check_matmul(h, h, f, WS_EPILOGUE_NONE, 197, 160, 80, 0, 1e-4);
    check_matmul(h, h, h, WS_EPILOGUE_GELU, 257, 256, 128, 1, 1e-3);
    check_matmul(h, h, f, WS_EPILOGUE_GELU, 257, 256, 128, 1, 1e-4);
}
END_TEST

START_TEST(test_layernorm) {
    const int M = 301, C = 1536;
    float *x = gpu_random((size_t)M * C, 3.0f, &seed), *w = gpu_random(C, 1.0f, &seed), *b = gpu_random(C, 1.0f, &seed);
    for (int i = 0; i < M * C; i++) x[i] += 1.0f;   /* a non-zero mean */
    float *dw = gpu_put(gpu, w, C), *db = gpu_put(gpu, b, C);
    for (int oi = 0; oi < 2; oi++) {
        const ws_dtype odt = oi ? WS_DTYPE_BF16 : WS_DTYPE_F32;
        void *href = malloc((size_t)M * C * ws_dtype_size(odt));
        OK(cpu->ops->layernorm(cpu, href, odt, x, w, b, M, C, 1e-6f));
        float *ref = host_f32(href, (size_t)M * C, odt);
        float *dx = gpu_put(gpu, x, (size_t)M * C);
        void *dout = oi ? gpu_put_dt(gpu, NULL, (size_t)M * C, odt) : dx;   /* f32: in place, as allowed */
        OK(gpu->ops->layernorm(gpu, dout, odt, dx, dw, db, M, C, 1e-6f));
        float *got = gpu_get_dt(gpu, dout, (size_t)M * C, odt);
        const char *name = oi ? "layernorm M=301 C=1536 out bf16" : "layernorm M=301 C=1536 (in place)";
        gpu_diff d = gpu_compare(name, ref, got, (size_t)M * C, M);
        ck_assert_msg(d.rel <= tol_for(odt, 1e-5), "%s rel err %.3e", name, d.rel);
        if (oi) gpu->ops->free(gpu, dout);
        gpu->ops->free(gpu, dx), free(ref), free(got);
    }
    gpu->ops->free(gpu, dw), gpu->ops->free(gpu, db);
    free(x), free(w), free(b);
}
END_TEST

START_TEST(test_residual_layernorm) {
    const int M = 77, C = 384;
    float *w = gpu_random(C, 1.0f, &seed), *b = gpu_random(C, 1.0f, &seed);
    float *dw = gpu_put(gpu, w, C), *db = gpu_put(gpu, b, C);
    for (int v = 0; v < 4; v++)              /* bias and LayerScale each present or absent */
        for (int yi = 0; yi < 2; yi++)
            for (int oi = 0; oi < 3; oi++) {  /* out f32, bf16, f32 in place in x */
                const ws_dtype ydt = yi ? WS_DTYPE_BF16 : WS_DTYPE_F32, odt = oi == 1 ? WS_DTYPE_BF16 : WS_DTYPE_F32;
                float *x = gpu_random((size_t)M * C, 1.0f, &seed), *y = gpu_random((size_t)M * C, 1.0f, &seed);
                float *bias = v & 1 ? gpu_random(C, 1.0f, &seed) : NULL, *gamma = v & 2 ? gpu_random(C, 1.0f, &seed) : NULL;
                void *hy = host_dt(y, (size_t)M * C, ydt), *hxn = oi == 2 ? x : malloc((size_t)M * C * ws_dtype_size(odt));
                float *dx = gpu_put(gpu, x, (size_t)M * C);
                void *dy = gpu_put_dt(gpu, y, (size_t)M * C, ydt);
                void *dxn = oi == 2 ? (void *)dx : gpu_put_dt(gpu, NULL, (size_t)M * C, odt);
                float *dbias = bias ? gpu_put(gpu, bias, C) : NULL, *dgamma = gamma ? gpu_put(gpu, gamma, C) : NULL;
                OK(cpu->ops->residual_layernorm(cpu, x, hy, ydt, bias, gamma, hxn, odt, w, b, M, C, 1e-6f));
                OK(gpu->ops->residual_layernorm(gpu, dx, dy, ydt, dbias, dgamma, dxn, odt, dw, db, M, C, 1e-6f));
                char name[128];
                snprintf(name, sizeof name, "residual_layernorm bias=%d ls=%d y %s out %s%s", v & 1, v >> 1,
                         ws_dtype_name(ydt), ws_dtype_name(odt), oi == 2 ? " in place" : "");
                float *got = gpu_get_dt(gpu, dxn, (size_t)M * C, odt);
                float *ref = oi == 2 ? x : host_f32(hxn, (size_t)M * C, odt);
                gpu_diff d = gpu_compare(name, ref, got, (size_t)M * C, M);
                ck_assert_msg(d.rel <= tol_for(odt, 1e-5), "%s rel err %.3e", name, d.rel);
                if (oi != 2) {
                    float *gx = gpu_get(gpu, dx, (size_t)M * C);
                    d = gpu_compare("  residual stream x", x, gx, (size_t)M * C, M);
                    ck_assert_msg(d.rel <= 1e-6, "%s: x rel err %.3e", name, d.rel);
                    free(gx), free(ref);
                    gpu->ops->free(gpu, dxn);
                }
                gpu->ops->free(gpu, dx), gpu->ops->free(gpu, dy), gpu->ops->free(gpu, dbias), gpu->ops->free(gpu, dgamma);
                free(x), free(y), free(bias), free(gamma), free(hy), free(got);
            }
    gpu->ops->free(gpu, dw), gpu->ops->free(gpu, db);
    free(w), free(b);
}
END_TEST

START_TEST(test_swiglu) {
    const int M = 77, H = 1000;
    float *in = gpu_random((size_t)M * 2 * H, 4.0f, &seed);
    for (int di = 0; di < 2; di++) {
        const ws_dtype dt = di ? WS_DTYPE_BF16 : WS_DTYPE_F32;
        void *hin = host_dt(in, (size_t)M * 2 * H, dt), *href = malloc((size_t)M * H * ws_dtype_size(dt));
        OK(cpu->ops->swiglu(cpu, href, hin, dt, M, H));
        float *ref = host_f32(href, (size_t)M * H, dt);
        void *din = gpu_put_dt(gpu, in, (size_t)M * 2 * H, dt), *dout = gpu_put_dt(gpu, NULL, (size_t)M * H, dt);
        OK(gpu->ops->swiglu(gpu, dout, din, dt, M, H));
        float *got = gpu_get_dt(gpu, dout, (size_t)M * H, dt);
        const char *name = di ? "swiglu M=77 H=1000 bf16" : "swiglu M=77 H=1000 f32";
        gpu_diff d = gpu_compare(name, ref, got, (size_t)M * H, 1);
        ck_assert_msg(d.rel <= tol_for(dt, 1e-6), "%s rel err %.3e", name, d.rel);
        gpu->ops->free(gpu, din), gpu->ops->free(gpu, dout), free(hin), free(ref), free(got);
    }
    free(in);
}
END_TEST

START_TEST(test_patch_tokens) {
    const int B = 2, R = 70, P = 14, g = R / P, g2 = g * g, C = 96, nreg = 4, N = 1 + nreg + g2, K = 3 * P * P;
    /* im2col: exact, in both dtypes (the same rounding) */
    float *pix = gpu_random((size_t)B * 3 * R * R, 2.0f, &seed);
    float *dpix = gpu_put(gpu, pix, (size_t)B * 3 * R * R);
    for (int di = 0; di < 2; di++) {
        const ws_dtype dt = di ? WS_DTYPE_BF16 : WS_DTYPE_F32;
        void *href = malloc((size_t)B * g2 * K * ws_dtype_size(dt));
        OK(cpu->ops->im2col(cpu, href, dt, pix, B, R, P));
        float *ref = host_f32(href, (size_t)B * g2 * K, dt);
        void *dcols = gpu_put_dt(gpu, NULL, (size_t)B * g2 * K, dt);
        OK(gpu->ops->im2col(gpu, dcols, dt, dpix, B, R, P));
        float *got = gpu_get_dt(gpu, dcols, (size_t)B * g2 * K, dt);
        gpu_diff d = gpu_compare(di ? "im2col B=2 R=70 P=14 bf16" : "im2col B=2 R=70 P=14 f32", ref, got,
                                 (size_t)B * g2 * K, 1);
        ck_assert_msg(d.max_abs == 0.0, "im2col differs");
        gpu->ops->free(gpu, dcols), free(ref), free(got);
    }
    gpu->ops->free(gpu, dpix), free(pix);

    /* token assembly (with registers) and the patch mean */
    float *patches = gpu_random((size_t)B * g2 * C, 1.0f, &seed), *cls = gpu_random(C, 1.0f, &seed);
    float *reg = gpu_random((size_t)nreg * C, 1.0f, &seed), *pos = gpu_random((size_t)(1 + g2) * C, 1.0f, &seed);
    float *ref = malloc((size_t)B * N * C * sizeof(float));
    OK(cpu->ops->tokens(cpu, ref, patches, cls, reg, pos, B, nreg, g2, C));
    float *dp = gpu_put(gpu, patches, (size_t)B * g2 * C), *dc = gpu_put(gpu, cls, C);
    float *dr = gpu_put(gpu, reg, (size_t)nreg * C), *dpos = gpu_put(gpu, pos, (size_t)(1 + g2) * C);
    float *dx = gpu_put(gpu, NULL, (size_t)B * N * C);
    OK(gpu->ops->tokens(gpu, dx, dp, dc, dr, dpos, B, nreg, g2, C));
    float *got = gpu_get(gpu, dx, (size_t)B * N * C);
    gpu_diff d = gpu_compare("tokens B=2 nreg=4 g2=25", ref, got, (size_t)B * N * C, 1);
    ck_assert_msg(d.max_abs == 0.0, "tokens differ");
    float mref[2 * 96], *dm = gpu_put(gpu, NULL, (size_t)B * C);
    OK(cpu->ops->token_mean(cpu, mref, ref, B, N, 1 + nreg, C));
    OK(gpu->ops->token_mean(gpu, dm, dx, B, N, 1 + nreg, C));
    float *mgot = gpu_get(gpu, dm, (size_t)B * C);
    d = gpu_compare("token_mean", mref, mgot, (size_t)B * C, 1);
    ck_assert_msg(d.rel <= 1e-6, "token_mean rel err %.3e > 1e-6", d.rel);
    gpu->ops->free(gpu, dp), gpu->ops->free(gpu, dc), gpu->ops->free(gpu, dr), gpu->ops->free(gpu, dpos);
    gpu->ops->free(gpu, dx), gpu->ops->free(gpu, dm);
    free(patches), free(cls), free(reg), free(pos), free(ref), free(got), free(mgot);
}
END_TEST

static void check_attention(int B, int N, int NH, int hs, ws_dtype dt, int round_bf16, double tol) {
    const size_t Cl = (size_t)NH * hs, nq = (size_t)B * N * 3 * Cl, no = (size_t)B * N * Cl;
    float *qkv = gpu_random(nq, 2.0f, &seed);
    void *hq = host_dt(qkv, nq, dt), *href = malloc(no * ws_dtype_size(dt));
    OK(cpu->ops->attention(cpu, href, hq, dt, B, N, NH, hs, round_bf16));
    float *ref = host_f32(href, no, dt);
    void *dq = gpu_put_dt(gpu, qkv, nq, dt), *dout = gpu_put_dt(gpu, NULL, no, dt);
    OK(gpu->ops->attention(gpu, dout, dq, dt, B, N, NH, hs, round_bf16));
    float *got = gpu_get_dt(gpu, dout, no, dt);
    char name[96];
    snprintf(name, sizeof name, "attention %s%s B=%d N=%d NH=%d hs=%d", ws_dtype_name(dt),
             round_bf16 ? " rounded" : "", B, N, NH, hs);
    gpu_diff d = gpu_compare(name, ref, got, no, (size_t)B * N * NH);
    ck_assert_msg(d.rel <= tol_for(dt, tol), "%s: rel err %.3e > %.1e", name, d.rel, tol_for(dt, tol));
    gpu->ops->free(gpu, dq), gpu->ops->free(gpu, dout);
    free(qkv), free(hq), free(ref), free(got);
}

START_TEST(test_attention) {
    /* f32: same math, another summation order and an online softmax: 1e-4 of max |ref|.
     * bf16: the flash kernel rounds unnormalised probabilities (the CPU normalised ones): 2e-2. */
    const int hs[] = {64, 80, 128, 48};
    const int Ns[] = {257, 197, 50};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++) {
            check_attention(2, Ns[j], 3, hs[i], WS_DTYPE_F32, 0, 1e-4);
            check_attention(2, Ns[j], 3, hs[i], WS_DTYPE_F32, 1, 2e-2);
            check_attention(2, Ns[j], 3, hs[i], WS_DTYPE_BF16, 1, 2e-2);
        }
}
END_TEST

int main(void) {
    gpu_skip_without_device("test_cuda_ops");
    /* One case per op family, so that CK_RUN_CASE runs one (the compute-sanitizer tests do). */
    const test_case cases[] = {
        {"matmul", test_matmul},       {"layernorm", test_layernorm},       {"residual_layernorm", test_residual_layernorm},
        {"swiglu", test_swiglu},       {"patch_tokens", test_patch_tokens}, {"attention", test_attention},
    };
    return test_run_cases("cuda_ops", cases, sizeof cases / sizeof cases[0], setup, teardown, 300);
}
