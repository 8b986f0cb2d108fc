/* The op cases, their double-precision references and the runner (see op_cases.h). */
#include "op_cases.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "gpu/compare.h"

#define F WS_DTYPE_F32
#define H WS_DTYPE_BF16

/* ---- the list ---------------------------------------------------------------------------- */

static op_case list[256];
static size_t count;

static void add(op_case c) {
    if (count < sizeof list / sizeof list[0]) list[count++] = c;
}

static void add_matmul(ws_dtype wdt, ws_dtype idt, ws_dtype odt, int epi, int M, int N, int K, int bias,
                       double tol_twin, const char *shape, int tp_rank, int tp) {
    add((op_case){.op = OP_MATMUL, .family = "matmul", .shape = shape, .M = M, .N = N, .K = K, .odt = odt,
                  .idt = idt, .wdt = wdt, .epi = epi, .bias = bias, .tp_rank = tp_rank, .tp = tp,
                  .tol_ref = 1e-5, .tol_twin = tol_twin});
}

static void add_attention(int B, int T, int NH, int hs, ws_dtype dt, int round, const char *shape, int tp_rank,
                          int tp) {
    /* f32 against the CPU: another summation order and an online softmax, 1e-4 of max |ref|;
     * rounded: the flash kernel rounds unnormalised probabilities (the CPU normalised ones), 2e-2.
     * The CPU against double: 1e-5, rounded 4e-3 (a probability's rounding may fall either way). */
    add((op_case){.op = OP_ATTENTION, .family = "attention", .shape = shape, .B = B, .T = T, .NH = NH, .hs = hs,
                  .odt = dt, .round_bf16 = round, .tp_rank = tp_rank, .tp = tp, .tol_ref = round ? 4e-3 : 1e-5,
                  .tol_twin = round ? 2e-2 : 1e-4});
}

static void build(void) {
    /* matmul. f32: cuBLAS against OpenBLAS, both f32 accumulation: 1e-5. bf16: both round the
     * input to bf16, products exact in f32, only the summation order differs: 1e-4. GELU with a
     * bf16 output is cuBLASLt's tanh form: 4.7e-4 from erf at most. */
    add_matmul(F, F, F, 0, 257, 192, 64, 1, 1e-5, NULL, 0, 0);
    add_matmul(F, F, F, 0, 100, 33, 17, 0, 1e-5, NULL, 0, 0);
    add_matmul(F, F, F, 1, 257, 192, 64, 1, 1e-5, NULL, 0, 0);
    add_matmul(H, F, F, 0, 514, 384, 256, 1, 1e-4, NULL, 0, 0);
    add_matmul(H, F, F, 0, 197, 160, 80, 0, 1e-4, NULL, 0, 0);
    add_matmul(H, H, H, 0, 514, 384, 256, 1, 1e-4, NULL, 0, 0);
    add_matmul(H, H, F, 0, 197, 160, 80, 0, 1e-4, NULL, 0, 0);
    add_matmul(H, H, H, 1, 257, 256, 128, 1, 1e-3, NULL, 0, 0);
    add_matmul(H, H, F, 1, 257, 256, 128, 1, 1e-4, NULL, 0, 0);
    /* one image of Web-DINO 300M (C 1024, 16 heads, FFN 2736) on rank 0 of tp 2: qkv column-
     * parallel (3 x 512 rows, bias), proj row-parallel (K 512, bias added after the all-reduce) */
    add_matmul(H, H, H, 0, 257, 1536, 1024, 1, 1e-4, "dino300m qkv", 0, 2);
    add_matmul(H, H, F, 0, 257, 1024, 512, 0, 1e-4, "dino300m proj", 0, 2);

    add((op_case){.op = OP_LAYERNORM, .family = "layernorm", .M = 301, .N = 1536, .odt = F, .in_place = 1,
                  .tol_ref = 1e-5, .tol_twin = 1e-5});
    add((op_case){.op = OP_LAYERNORM, .family = "layernorm", .M = 301, .N = 1536, .odt = H, .tol_ref = 1e-5,
                  .tol_twin = 1e-5});
    for (int v = 0; v < 4; v++)   /* bias and LayerScale each present or absent */
        for (int yi = 0; yi < 2; yi++)
            for (int oi = 0; oi < 3; oi++)   /* out f32, bf16, f32 in place in x */
                add((op_case){.op = OP_RESIDUAL_LAYERNORM, .family = "residual_layernorm", .M = 77, .N = 384,
                              .idt = yi ? H : F, .odt = oi == 1 ? H : F, .in_place = oi == 2, .bias = v & 1,
                              .gamma = v >> 1, .tol_ref = 1e-5, .tol_twin = 1e-5});

    add((op_case){.op = OP_SWIGLU, .family = "swiglu", .M = 77, .N = 1000, .odt = F, .tol_ref = 1e-6, .tol_twin = 1e-6});
    add((op_case){.op = OP_SWIGLU, .family = "swiglu", .M = 77, .N = 1000, .odt = H, .tol_ref = 1e-6, .tol_twin = 1e-6});
    add((op_case){.op = OP_SWIGLU, .family = "swiglu", .shape = "dino300m FFN", .M = 257, .N = 1368, .odt = H,
                  .tp_rank = 0, .tp = 2, .tol_ref = 1e-6, .tol_twin = 1e-6});

    for (int di = 0; di < 2; di++)   /* data movement: exact */
        add((op_case){.op = OP_IM2COL, .family = "patch_tokens", .B = 2, .T = 70, .hs = 14, .odt = di ? H : F});
    add((op_case){.op = OP_TOKENS, .family = "patch_tokens", .B = 2, .NH = 4, .T = 25, .hs = 96, .odt = F,
                  .tol_ref = 1e-6});
    add((op_case){.op = OP_TOKEN_MEAN, .family = "patch_tokens", .M = 2, .N = 30, .K = 96, .T = 5, .odt = F,
                  .tol_ref = 1e-6, .tol_twin = 1e-6});

    const int hs[] = {64, 80, 128, 48}, Ts[] = {257, 197, 50};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++) {
            add_attention(2, Ts[j], 3, hs[i], F, 0, NULL, 0, 0);
            add_attention(2, Ts[j], 3, hs[i], F, 1, NULL, 0, 0);
            add_attention(2, Ts[j], 3, hs[i], H, 1, NULL, 0, 0);
        }
    add_attention(1, 257, 8, 64, H, 1, "dino300m", 0, 2);
    add_attention(1, 257, 11, 64, H, 1, "21 heads", 0, 2);   /* uneven: 11 + 10 */
}

const op_case *op_cases(size_t *n) {
    if (!count) build();
    *n = count;
    return list;
}

void op_case_name(const op_case *c, char *buf, size_t n) {
    int k = 0;
    switch (c->op) {
    case OP_MATMUL:
        k = snprintf(buf, n, "matmul w %s in %s out %s%s%s M=%d N=%d K=%d", ws_dtype_name(c->wdt), ws_dtype_name(c->idt),
                     ws_dtype_name(c->odt), c->epi ? " gelu" : "", c->bias ? " +bias" : "", c->M, c->N, c->K);
        break;
    case OP_LAYERNORM:
        k = snprintf(buf, n, "layernorm M=%d C=%d out %s%s", c->M, c->N, ws_dtype_name(c->odt),
                     c->in_place ? " in place" : "");
        break;
    case OP_RESIDUAL_LAYERNORM:
        k = snprintf(buf, n, "residual_layernorm bias=%d ls=%d y %s out %s%s M=%d C=%d", c->bias, c->gamma,
                     ws_dtype_name(c->idt), ws_dtype_name(c->odt), c->in_place ? " in place" : "", c->M, c->N);
        break;
    case OP_SWIGLU: k = snprintf(buf, n, "swiglu %s M=%d H=%d", ws_dtype_name(c->odt), c->M, c->N); break;
    case OP_IM2COL:
        k = snprintf(buf, n, "im2col %s B=%d R=%d P=%d", ws_dtype_name(c->odt), c->B, c->T, c->hs);
        break;
    case OP_TOKENS: k = snprintf(buf, n, "tokens B=%d nreg=%d g2=%d C=%d", c->B, c->NH, c->T, c->hs); break;
    case OP_TOKEN_MEAN:
        k = snprintf(buf, n, "token_mean B=%d N=%d first=%d C=%d", c->M, c->N, c->T, c->K);
        break;
    case OP_ATTENTION:
        k = snprintf(buf, n, "attention %s%s B=%d N=%d NH=%d hs=%d", ws_dtype_name(c->odt),
                     c->round_bf16 ? " rounded" : "", c->B, c->T, c->NH, c->hs);
        break;
    }
    if (k > 0 && (size_t)k < n && (c->shape || c->tp))
        snprintf(buf + k, n - (size_t)k, " (%s%stp %d/%d)", c->shape ? c->shape : "", c->shape ? ", " : "",
                 c->tp_rank + 1, c->tp);
}

/* ---- inputs ------------------------------------------------------------------------------ */

enum { MAX_BUFS = 6 };

typedef struct {
    float *v;      /* host values, exactly what a buffer of dtype dt holds */
    size_t n;
    ws_dtype dt;
} buf;

static uint64_t seed;

static buf make(size_t n, float scale, float offset, ws_dtype dt) {
    buf b = {gpu_random(n, scale, &seed), n, dt};
    for (size_t i = 0; i < n; i++) {
        b.v[i] += offset;
        if (dt == H) b.v[i] = ws_bf16_to_f32(ws_f32_to_bf16(b.v[i]));
    }
    return b;
}

/* The inputs of case c, in the order its op takes them; the count. */
static int make_inputs(const op_case *c, buf *in) {
    seed = 0x9e3779b97f4a7c15ull;
    const size_t M = (size_t)c->M, N = (size_t)c->N, K = (size_t)c->K;
    switch (c->op) {
    case OP_MATMUL:
        in[0] = make(M * K, 1.0f, 0, c->idt), in[1] = make(N * K, 0.1f, 0, c->wdt), in[2] = make(N, 0.5f, 0, F);
        return 3;
    case OP_LAYERNORM:   /* a non-zero mean */
        in[0] = make(M * N, 3.0f, 1.0f, F), in[1] = make(N, 1.0f, 0, F), in[2] = make(N, 1.0f, 0, F);
        return 3;
    case OP_RESIDUAL_LAYERNORM:   /* x, y, bias, gamma, LayerNorm weight and bias */
        in[0] = make(M * N, 1.0f, 0, F), in[1] = make(M * N, 1.0f, 0, c->idt);
        for (int i = 2; i < 6; i++) in[i] = make(N, 1.0f, 0, F);
        return 6;
    case OP_SWIGLU: in[0] = make(M * 2 * N, 4.0f, 0, c->odt); return 1;
    case OP_IM2COL: in[0] = make((size_t)c->B * 3 * c->T * c->T, 2.0f, 0, F); return 1;
    case OP_TOKENS: {   /* patches, cls, registers, positions */
        const size_t C = (size_t)c->hs, g2 = (size_t)c->T;
        in[0] = make((size_t)c->B * g2 * C, 1.0f, 0, F), in[1] = make(C, 1.0f, 0, F);
        in[2] = make((size_t)c->NH * C, 1.0f, 0, F), in[3] = make((1 + g2) * C, 1.0f, 0, F);
        return 4;
    }
    case OP_TOKEN_MEAN: in[0] = make(M * N * K, 1.0f, 0, F); return 1;
    case OP_ATTENTION:
        in[0] = make((size_t)c->B * c->T * 3 * c->NH * c->hs, 2.0f, 0, c->odt);
        return 1;
    }
    return 0;
}

/* Size of the (first) output in elements, and its dtype. */
static size_t out_size(const op_case *c) {
    switch (c->op) {
    case OP_MATMUL: return (size_t)c->M * c->N;
    case OP_LAYERNORM:
    case OP_RESIDUAL_LAYERNORM:
    case OP_SWIGLU: return (size_t)c->M * c->N;
    case OP_IM2COL: return (size_t)c->B * (c->T / c->hs) * (c->T / c->hs) * 3 * c->hs * c->hs;
    case OP_TOKENS: return (size_t)c->B * (1 + c->NH + c->T) * c->hs;
    case OP_TOKEN_MEAN: return (size_t)c->M * c->K;
    case OP_ATTENTION: return (size_t)c->B * c->T * c->NH * c->hs;
    }
    return 0;
}

static ws_dtype out_dtype(const op_case *c) {
    return c->op == OP_TOKENS || c->op == OP_TOKEN_MEAN ? F : c->odt;
}

/* ---- running on a backend ---------------------------------------------------------------- */

static void *put(ws_backend *be, const buf *b) {
    void *d = be->ops->alloc(be, b->n * ws_dtype_size(b->dt) + 1);
    void *h = malloc(b->n * ws_dtype_size(b->dt) + 1);
    if (d && h) {
        ws_convert_from_f32(h, b->dt, b->v, b->n);
        be->ops->upload(be, d, h, b->n * ws_dtype_size(b->dt));
    }
    free(h);
    return d;
}

static float *get(ws_backend *be, const void *d, size_t n, ws_dtype dt) {
    void *h = malloc(n * ws_dtype_size(dt) + 1);
    float *x = malloc(n * sizeof(float) + 1);
    be->ops->download(be, h, d, n * ws_dtype_size(dt));
    ws_convert_to_f32(x, h, dt, n);
    free(h);
    return x;
}

/* One call of the op of case c on be, over device buffers d (inputs) and out. */
static int call(const op_case *c, ws_backend *be, void **d, void *out) {
    const ws_backend_ops *o = be->ops;
    switch (c->op) {
    case OP_MATMUL:
        return o->matmul(be, out, c->odt, d[0], c->idt, d[1], c->wdt, c->bias ? d[2] : NULL,
                         c->epi ? WS_EPILOGUE_GELU : WS_EPILOGUE_NONE, c->M, c->N, c->K);
    case OP_LAYERNORM: return o->layernorm(be, out, c->odt, d[0], d[1], d[2], c->M, c->N, 1e-6f);
    case OP_RESIDUAL_LAYERNORM:
        return o->residual_layernorm(be, d[0], d[1], c->idt, c->bias ? d[2] : NULL, c->gamma ? d[3] : NULL, out,
                                     c->odt, d[4], d[5], c->M, c->N, 1e-6f);
    case OP_SWIGLU: return o->swiglu(be, out, d[0], c->odt, c->M, c->N);
    case OP_IM2COL: return o->im2col(be, out, c->odt, d[0], c->B, c->T, c->hs);
    case OP_TOKENS: return o->tokens(be, out, d[0], d[1], d[2], d[3], c->B, c->NH, c->T, c->hs);
    case OP_TOKEN_MEAN: return o->token_mean(be, out, d[0], c->M, c->N, c->T, c->K);
    case OP_ATTENTION: return o->attention(be, out, d[0], c->odt, c->B, c->T, c->NH, c->hs, c->round_bf16);
    }
    return WS_ERR_ARG;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Uploads the inputs, calls the op `iters` times (timed into *seconds when not NULL), downloads
 * the output into got[0] and, for a residual add not in place, the updated x into got[1]. */
static int run(const op_case *c, ws_backend *be, const buf *in, int nin, int iters, double *seconds, float **got) {
    void *d[MAX_BUFS] = {0};
    for (int i = 0; i < nin; i++) d[i] = put(be, &in[i]);
    const size_t n = out_size(c);
    void *out = c->in_place ? d[0] : be->ops->alloc(be, n * ws_dtype_size(out_dtype(c)) + 1);
    int rc = WS_OK;
    double t0 = now();
    for (int i = 0; i < iters && rc == WS_OK; i++) rc = call(c, be, d, out);
    be->ops->sync(be);
    if (seconds) *seconds = now() - t0;
    if (got && rc == WS_OK) {
        got[0] = get(be, out, n, out_dtype(c));
        got[1] = c->op == OP_RESIDUAL_LAYERNORM && !c->in_place ? get(be, d[0], n, F) : NULL;
    }
    if (!c->in_place) be->ops->free(be, out);
    for (int i = 0; i < nin; i++) be->ops->free(be, d[i]);
    return rc;
}

/* ---- double-precision references --------------------------------------------------------- */

static double bf16_round(double v) { return ws_bf16_to_f32(ws_f32_to_bf16((float)v)); }

static void ref_matmul(const op_case *c, const buf *in, float *out) {
    const float *x = in[0].v, *w = in[1].v, *b = in[2].v;
    for (int m = 0; m < c->M; m++)
        for (int n = 0; n < c->N; n++) {
            double acc = c->bias ? b[n] : 0.0;
            for (int k = 0; k < c->K; k++) {   /* bf16 weights multiply a bf16-rounded input */
                const double xv = x[(size_t)m * c->K + k];
                acc += (c->wdt == H ? bf16_round(xv) : xv) * w[(size_t)n * c->K + k];
            }
            if (c->epi) acc = 0.5 * acc * (1.0 + erf(acc / sqrt(2.0)));
            out[(size_t)m * c->N + n] = (float)acc;
        }
}

/* LayerNorm of the M rows of x[M,C] (double) into out, with weight w and bias b. */
static void layernorm_rows(const double *x, const float *w, const float *b, int M, int C, float *out) {
    for (int m = 0; m < M; m++) {
        const double *r = x + (size_t)m * C;
        double mean = 0, var = 0;
        for (int i = 0; i < C; i++) mean += r[i];
        mean /= C;
        for (int i = 0; i < C; i++) var += (r[i] - mean) * (r[i] - mean);
        const double rstd = 1.0 / sqrt(var / C + 1e-6);
        for (int i = 0; i < C; i++) out[(size_t)m * C + i] = (float)((r[i] - mean) * rstd * w[i] + b[i]);
    }
}

void op_reference_attention(const float *qkv, int B, int T, int NH, int hs, int round_bf16, double *out) {
    const size_t C = (size_t)NH * hs;
    double *p = malloc((size_t)T * sizeof(double));
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int i = 0; i < T; i++) {
                const float *q = qkv + ((size_t)b * T + i) * 3 * C + (size_t)h * hs;
                double mx = -INFINITY, sum = 0;
                for (int j = 0; j < T; j++) {
                    const float *k = qkv + ((size_t)b * T + j) * 3 * C + C + (size_t)h * hs;
                    double dot = 0;
                    for (int e = 0; e < hs; e++)
                        dot += round_bf16 ? bf16_round(q[e]) * bf16_round(k[e]) : (double)q[e] * k[e];
                    p[j] = dot / sqrt((double)hs);
                    mx = fmax(mx, p[j]);
                }
                for (int j = 0; j < T; j++) sum += p[j] = exp(p[j] - mx);
                for (int e = 0; e < hs; e++) {
                    double acc = 0;
                    for (int j = 0; j < T; j++) {
                        const double v = qkv[((size_t)b * T + j) * 3 * C + 2 * C + (size_t)h * hs + e];
                        acc += round_bf16 ? bf16_round(p[j] / sum) * bf16_round(v) : p[j] / sum * v;
                    }
                    out[((size_t)b * T + i) * C + (size_t)h * hs + e] = acc;
                }
            }
    free(p);
}

/* Reference outputs of case c: ref[0] like got[0], ref[1] the updated x of a residual add. */
static void reference(const op_case *c, const buf *in, float **ref) {
    const size_t n = out_size(c), M = (size_t)c->M, N = (size_t)c->N;
    ref[0] = malloc(n * sizeof(float) + 1);
    ref[1] = NULL;
    double *x = NULL;
    switch (c->op) {
    case OP_MATMUL: ref_matmul(c, in, ref[0]); break;
    case OP_LAYERNORM:
        x = malloc(n * sizeof(double));
        for (size_t i = 0; i < n; i++) x[i] = in[0].v[i];
        layernorm_rows(x, in[1].v, in[2].v, c->M, c->N, ref[0]);
        break;
    case OP_RESIDUAL_LAYERNORM:
        x = malloc(n * sizeof(double));
        ref[1] = malloc(n * sizeof(float));
        for (size_t i = 0; i < n; i++) {
            const size_t ch = i % N;
            const double u = (double)in[1].v[i] + (c->bias ? in[2].v[ch] : 0.0);
            x[i] = in[0].v[i] + (c->gamma ? in[3].v[ch] * u : u);
            ref[1][i] = (float)x[i];
        }
        layernorm_rows(x, in[4].v, in[5].v, c->M, c->N, ref[0]);
        if (c->in_place) free(ref[1]), ref[1] = NULL;
        break;
    case OP_SWIGLU:
        for (size_t m = 0; m < M; m++)
            for (size_t h = 0; h < N; h++) {
                const double g = in[0].v[m * 2 * N + h], l = in[0].v[m * 2 * N + N + h];
                ref[0][m * N + h] = (float)(g / (1.0 + exp(-g)) * l);
            }
        break;
    case OP_IM2COL: {
        const int R = c->T, P = c->hs, g = R / P, K = 3 * P * P;
        for (int b = 0; b < c->B; b++)
            for (int py = 0; py < g; py++)
                for (int px = 0; px < g; px++)
                    for (int k = 0; k < K; k++) {
                        const int ch = k / (P * P), y = k / P % P, xx = k % P;
                        const float v = in[0].v[(((size_t)b * 3 + ch) * R + py * P + y) * R + px * P + xx];
                        ref[0][(((size_t)b * g + py) * g + px) * K + k] = c->odt == H ? (float)bf16_round(v) : v;
                    }
        break;
    }
    case OP_TOKENS: {
        const size_t C = (size_t)c->hs, g2 = (size_t)c->T, nreg = (size_t)c->NH, T = 1 + nreg + g2;
        for (size_t b = 0; b < (size_t)c->B; b++)
            for (size_t t = 0; t < T; t++)
                for (size_t ch = 0; ch < C; ch++)
                    ref[0][(b * T + t) * C + ch] =
                        t == 0 ? (float)((double)in[1].v[ch] + in[3].v[ch])
                        : t <= nreg ? in[2].v[(t - 1) * C + ch]
                                    : (float)((double)in[0].v[(b * g2 + t - 1 - nreg) * C + ch] + in[3].v[(t - nreg) * C + ch]);
        break;
    }
    case OP_TOKEN_MEAN:
        for (size_t b = 0; b < M; b++)
            for (size_t ch = 0; ch < (size_t)c->K; ch++) {
                double s = 0;
                for (size_t t = (size_t)c->T; t < N; t++) s += in[0].v[(b * N + t) * c->K + ch];
                ref[0][b * c->K + ch] = (float)(s / (double)(N - (size_t)c->T));
            }
        break;
    case OP_ATTENTION: {
        double *r = malloc(n * sizeof(double));
        op_reference_attention(in[0].v, c->B, c->T, c->NH, c->hs, c->round_bf16, r);
        for (size_t i = 0; i < n; i++) ref[0][i] = (float)r[i];
        free(r);
        break;
    }
    }
    free(x);
}

/* ---- checking and timing ----------------------------------------------------------------- */

/* A bf16 output may differ by one bf16 rounding: one ulp, up to 2^-7 of max |ref|. */
static double tol_for(ws_dtype dt, double tol) { return dt == H ? tol + 1.0 / 128 : tol; }

static void free_bufs(buf *in, int nin) {
    for (int i = 0; i < nin; i++) free(in[i].v);
}

int op_case_check(const op_case *c, ws_backend *be, ws_backend *cpu, char *why, size_t nwhy) {
    char name[200], line[260];
    op_case_name(c, name, sizeof name);
    buf in[MAX_BUFS];
    const int nin = make_inputs(c, in);
    float *got[2] = {0}, *ref[2] = {0}, *twin[2] = {0};
    const int is_cpu = be == cpu;
    int rc = run(c, be, in, nin, 1, NULL, got), bad = 0;
    if (rc == WS_OK && !is_cpu) rc = run(c, cpu, in, nin, 1, NULL, twin);
    if (rc != WS_OK) {
        snprintf(why, nwhy, "%s: %s", name, ws_error_message());
        free_bufs(in, nin);
        return 1;
    }
    reference(c, in, ref);
    const size_t n = out_size(c);
    const size_t rows = c->op == OP_ATTENTION ? (size_t)c->B * c->T : c->M > 0 ? (size_t)c->M : 1;
    for (int o = 0; o < 2 && got[o]; o++) {
        const ws_dtype dt = o ? F : out_dtype(c);
        snprintf(line, sizeof line, "%s%s vs double", name, o ? ": x" : "");
        gpu_diff dr = gpu_compare(line, ref[o], got[o], n, rows);
        double tol = o ? 1e-6 : tol_for(dt, c->tol_ref), err = dr.rel;
        if (!is_cpu) {   /* against the CPU twin */
            snprintf(line, sizeof line, "%s%s vs cpu", name, o ? ": x" : "");
            err = gpu_compare(line, twin[o], got[o], n, rows).rel;
            tol = o ? 1e-6 : tol_for(dt, c->tol_twin);
        }
        if (!(err <= tol)) {
            snprintf(why, nwhy, "%s%s: rel err %.3e > tolerance %.1e", name, o ? ": x" : "", err, tol);
            bad = 1;
        }
    }
    for (int o = 0; o < 2; o++) free(got[o]), free(ref[o]), free(twin[o]);
    free_bufs(in, nin);
    return bad;
}

double op_case_time(const op_case *c, ws_backend *be, double min_seconds, double *flops, double *bytes) {
    buf in[MAX_BUFS];
    const int nin = make_inputs(c, in);
    double s = 0;
    int iters = 1;
    run(c, be, in, nin, 1, NULL, NULL);   /* warm-up: plans, scratch, caches */
    while (run(c, be, in, nin, iters, &s, NULL) == WS_OK && s < min_seconds && iters < (1 << 20)) iters *= 2;
    *bytes = (double)out_size(c) * ws_dtype_size(out_dtype(c));
    for (int i = 0; i < nin; i++) *bytes += (double)in[i].n * ws_dtype_size(in[i].dt);
    *flops = c->op == OP_MATMUL ? 2.0 * c->M * c->N * c->K
           : c->op == OP_ATTENTION ? 4.0 * c->B * c->NH * (double)c->T * c->T * c->hs : 0.0;
    free_bufs(in, nin);
    return s / iters;
}
