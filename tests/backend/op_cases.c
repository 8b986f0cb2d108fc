/* The op cases, their double-precision references and the runner (see op_cases.h). */
#include "op_cases.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "data/preprocess.h"
#include "gpu/compare.h"

#define F WS_DTYPE_F32
#define H WS_DTYPE_BF16

/* ---- the list ---------------------------------------------------------------------------- */

static op_case list[512];
static size_t count;

/* Appends c; the entry, for the caller to mark (its emu_case). */
static op_case *add(op_case c) {
    if (count == sizeof list / sizeof list[0]) {
        fprintf(stderr, "op_cases.c: more than %zu cases: enlarge the list\n", count);
        abort();
    }
    list[count] = c;
    return &list[count++];
}

static op_case *add_matmul(ws_dtype wdt, ws_dtype idt, ws_dtype odt, int epi, int M, int N, int K, int bias,
                           double tol_twin, const char *shape, int tp_rank, int tp) {
    return add((op_case){.op = OP_MATMUL, .family = "matmul", .shape = shape, .M = M, .N = N, .K = K, .odt = odt,
                         .idt = idt, .wdt = wdt, .epi = epi, .bias = bias, .tp_rank = tp_rank, .tp = tp,
                         .tol_ref = 1e-5, .tol_twin = tol_twin});
}

/* LayerNorm of M rows of C, x = mean + spread * uniform[-1, 1), out odt (f32: in place when
 * in_place). Each side's f32 mean is off by k u |mean| (u = 2^-24; k about 1 for sums in vector
 * lanes or a block tree, growing like sqrt(C) for a sum one value at a time, as in the sanitizer
 * build), which shifts the normalised values by k u |mean| / sigma: tolerance 2e-6 plus twice
 * (1 + sqrt(C)) u |mean| / sigma, at least 1e-5 on rows of unit spread. */
static op_case *add_layernorm(int M, int C, ws_dtype odt, int in_place, float mean, float spread) {
    const double sigma = spread / sqrt(3.0), k_sum = 2.0 * (1.0 + sqrt((double)C));
    double tol = 2e-6 + (sigma > 0 ? k_sum * ldexp(1.0, -24) * fabs(mean) / sigma : 0.0);
    if (spread >= 1.0f && tol < 1e-5) tol = 1e-5;
    return add((op_case){.op = OP_LAYERNORM, .family = "layernorm", .M = M, .N = C, .odt = odt,
                         .in_place = in_place, .in_mean = mean, .in_spread = spread, .tol_ref = tol,
                         .tol_twin = tol});
}

/* The fused residual + LayerScale + LayerNorm on M rows of C: every (y dtype, output dtype), bias
 * and LayerScale each present or absent, and xn = x (f32 out in place of the stream). */
static void add_residual_layernorms(int M, int C, const char *emu_case) {
    for (int v = 0; v < 4; v++)
        for (int yi = 0; yi < 2; yi++)
            for (int oi = 0; oi < 3; oi++)   /* out f32, bf16, f32 in place in x */
                add((op_case){.op = OP_RESIDUAL_LAYERNORM, .family = "residual_layernorm", .M = M, .N = C,
                              .idt = yi ? H : F, .odt = oi == 1 ? H : F, .in_place = oi == 2, .bias = v & 1,
                              .gamma = v >> 1, .tol_ref = 1e-5, .tol_twin = 1e-5, .emu_case = emu_case});
}

static op_case *add_swiglu(int M, int Hd, ws_dtype dt, const char *shape, int tp_rank, int tp) {
    return add((op_case){.op = OP_SWIGLU, .family = "swiglu", .shape = shape, .M = M, .N = Hd, .odt = dt,
                         .tp_rank = tp_rank, .tp = tp, .tol_ref = 1e-6, .tol_twin = 1e-6});
}

/* The patch embedding's data movement (im2col in f32 and bf16, exact), token assembly (exact on
 * another backend) and the mean over the patch tokens. */
static void add_patch_tokens(int B, int R, int P, int nreg, int C, const char *emu_case) {
    const int g2 = (R / P) * (R / P);
    for (int di = 0; di < 2; di++)
        add((op_case){.op = OP_IM2COL, .family = "patch_tokens", .B = B, .T = R, .hs = P, .odt = di ? H : F,
                      .emu_case = emu_case});
    add((op_case){.op = OP_TOKENS, .family = "patch_tokens", .B = B, .NH = nreg, .T = g2, .hs = C, .odt = F,
                  .tol_ref = 1e-6, .emu_case = emu_case});
    add((op_case){.op = OP_TOKEN_MEAN, .family = "patch_tokens", .M = B, .N = 1 + nreg + g2, .K = C, .T = 1 + nreg,
                  .odt = F, .tol_ref = 1e-6, .tol_twin = 1e-6, .emu_case = emu_case});
}

static op_case *add_attention(int B, int T, int NH, int hs, ws_dtype dt, int round, const char *shape, int tp_rank,
                              int tp) {
    /* f32 against the CPU: another summation order and an online softmax, 1e-4 of max |ref|;
     * rounded: the flash kernel rounds unnormalised probabilities (the CPU normalised ones), 2e-2.
     * The CPU against double: 1e-5, rounded 4e-3 (a probability's rounding may fall either way). */
    return add((op_case){.op = OP_ATTENTION, .family = "attention", .shape = shape, .B = B, .T = T, .NH = NH,
                         .hs = hs, .odt = dt, .round_bf16 = round, .tp_rank = tp_rank, .tp = tp,
                         .tol_ref = round ? 4e-3 : 1e-5, .tol_twin = round ? 2e-2 : 1e-4});
}

enum { IMAGENET, ODD_NORM };

/* Normalisation of B uint8 images of R x R with ImageNet's mean and std, or odd ones. */
static op_case *add_normalize(int B, int R, int norm) {
    static const float mean[2][3] = {{0.485f, 0.456f, 0.406f}, {0.5f, 0.0f, 1.0f / 3.0f}};
    static const float std[2][3] = {{0.229f, 0.224f, 0.225f}, {0.5f, 1.0f, 0.017f}};
    return add((op_case){.op = OP_NORMALIZE, .family = "normalize", .shape = norm ? "odd mean and std" : "ImageNet",
                         .B = B, .T = R, .odt = F, .norm_mean = mean[norm], .norm_std = std[norm]});
}

/* The cases the emulator's kernel tests run under every thread schedule (emu_case): shapes that
 * reach each kernel's corners (a warp with idle lanes, block sums across warps, partial tiles,
 * 4-wide accesses with a scalar tail), rows where LayerNorm's numerics are hard, and the shapes
 * the planted defects of tests/emu/CMakeLists.txt need to show. */
static void build_emu(void) {
    /* LayerNorm rows of C = 200 (one warp: 50 groups of 4 channels, lanes with one group fewer),
     * 1000 (two warps, so the block sums cross warps) and 4096 (eight warps, four groups per
     * thread); f32 in place, bf16 into its own buffer. */
    const int ln[][2] = {{37, 200}, {9, 1000}, {3, 4096}};
    for (int i = 0; i < 3; i++)
        for (int di = 0; di < 2; di++)
            add_layernorm(ln[i][0], ln[i][1], di ? H : F, !di, 1.0f, 3.0f)->emu_case = "layernorm";
    /* Nearly constant rows, variance 0.1 and 1 times eps around 0 and 0.5, where eps is much of
     * the denominator (a kernel with eps ten times too large is off by 0.25 of max |ref|), and
     * rows of mean 100 and 1e4 with unit spread (test_cpu_ops checks the CPU on them against a
     * double reference). */
    const float hard[][2] = {{0.0f, 0.0f}, {0.5f, 0.0f}, {0.0f, 5.48e-4f}, {0.0f, 1.73e-3f}, {0.5f, 5.48e-4f},
                             {0.5f, 1.73e-3f}, {100.0f, 1.0f}, {1e4f, 1.0f}};
    for (int i = 0; i < 8; i++) add_layernorm(5, 1000, F, 0, hard[i][0], hard[i][1])->emu_case = "layernorm";
    for (int i = 0; i < 2; i++) add_residual_layernorms(ln[i][0], ln[i][1], "residual_layernorm");

    /* Element-wise kernels with H a multiple of 4 (4-wide accesses) and odd (scalar): SwiGLU, the
     * GELU kernel after an f32 GEMM, the conversion of a GEMM input of the other dtype and of a
     * bias for a bf16 output. */
    const int Hs[] = {300, 75};
    for (int i = 0; i < 2; i++) {
        for (int di = 0; di < 2; di++) add_swiglu(13, Hs[i], di ? H : F, NULL, 0, 0)->emu_case = "elementwise";
        add_matmul(F, F, F, 1, 13, Hs[i], 16, 0, 1e-5, NULL, 0, 0)->emu_case = "elementwise";
    }
    add_matmul(H, F, F, 0, 13, 64, 75, 0, 1e-4, NULL, 0, 0)->emu_case = "elementwise";
    add_matmul(H, H, H, 0, 13, 75, 64, 1, 1e-4, NULL, 0, 0)->emu_case = "elementwise";

    add_patch_tokens(2, 28, 14, 2, 40, "patch_tokens");

    /* The tensor-core attention kernel: 128-row query tiles and 64-key tiles (two pipeline
     * stages): 5 and 17 tokens are one partial tile (one wrongly admitted padding key moves every
     * output far past the tolerance), 128 is two full key tiles and one full query tile, 131 ends
     * in a 3-key tile and a query tile of 3 rows (warps with no rows), 197 and 257 are the
     * published token counts (4 and 5 key tiles, so each stage is refilled); 5 and 7 heads are
     * uneven tensor-parallel splits. Then f32 activations rounded to bf16 on the way into shared
     * memory. */
    const int mma[][3] = {{2, 5, 5}, {1, 17, 7}, {1, 128, 1}, {1, 131, 2}, {1, 197, 1}, {1, 257, 1}};
    const int hs[] = {64, 80, 128, 48};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 6; j++)
            add_attention(mma[j][0], mma[j][1], mma[j][2], hs[i], H, 1, NULL, 0, 0)->emu_case = "attention_mma";
    for (int i = 0; i < 3; i++) add_attention(1, 131, 1, hs[i], F, 1, NULL, 0, 0)->emu_case = "attention_mma";
    /* Long sequences, the same code paths ten times as long: 1025 tokens (9 query tiles, 17 key
     * tiles with one key in the last) at hs 64, 1370 (the 7B model at 518 px: 11 and 22 tiles) at
     * hs 128. */
    add_attention(1, 1025, 1, 64, H, 1, NULL, 0, 0)->emu_case = "attention_mma_long";
    add_attention(1, 1370, 1, 128, H, 1, NULL, 0, 0)->emu_case = "attention_mma_long";
    /* The CUDA-core kernel (512 threads a block, a shuffle per key: the slowest to emulate, so
     * small shapes): exact f32 at every head size, bf16 rounding at a head size the tensor-core
     * kernel lacks, with f32 and bf16 activations; 16-row query blocks and 32-key chunks, so 70
     * and 33 end in partial ones. */
    for (int i = 0; i < 4; i++) add_attention(1, 70, 1, hs[i], F, 0, NULL, 0, 0)->emu_case = "attention_simt";
    add_attention(2, 33, 3, 48, F, 0, NULL, 0, 0)->emu_case = "attention_simt";
    add_attention(1, 70, 1, 48, F, 1, NULL, 0, 0)->emu_case = "attention_simt";
    add_attention(1, 33, 2, 48, H, 1, NULL, 0, 0)->emu_case = "attention_simt";

    /* Normalisation with the last block partly idle (675 pixels an image) and odd mean and std. */
    add_normalize(1, 16, IMAGENET)->emu_case = "normalize";
    add_normalize(3, 15, IMAGENET)->emu_case = "normalize";
    add_normalize(2, 23, ODD_NORM)->emu_case = "normalize";
    /* The arg-max (one warp a row) with N below, at and above the warp width. */
    const int Ns[] = {1, 7, 32, 100, 1000};
    for (int i = 0; i < 5; i++)
        add((op_case){.op = OP_ROW_ARGMAX, .family = "row_argmax", .M = 37, .N = Ns[i], .odt = F,
                      .emu_case = "row_argmax"});
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

    add_layernorm(301, 1536, F, 1, 1.0f, 3.0f);   /* a non-zero mean */
    add_layernorm(301, 1536, H, 0, 1.0f, 3.0f);
    add_residual_layernorms(77, 384, NULL);

    add_swiglu(77, 1000, F, NULL, 0, 0);
    add_swiglu(77, 1000, H, NULL, 0, 0);
    add_swiglu(257, 1368, H, "dino300m FFN", 0, 2);

    add_patch_tokens(2, 70, 14, 4, 96, NULL);

    const int hs[] = {64, 80, 128, 48}, Ts[] = {257, 197, 50};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++) {
            add_attention(2, Ts[j], 3, hs[i], F, 0, NULL, 0, 0);
            add_attention(2, Ts[j], 3, hs[i], F, 1, NULL, 0, 0);
            add_attention(2, Ts[j], 3, hs[i], H, 1, NULL, 0, 0);
        }
    add_attention(1, 257, 8, 64, H, 1, "dino300m", 0, 2);
    add_attention(1, 257, 11, 64, H, 1, "21 heads", 0, 2);   /* uneven: 11 + 10 */

    /* the k-means assignment: 300 rows against 1024 centroids; exact */
    add((op_case){.op = OP_ROW_ARGMAX, .family = "row_argmax", .M = 300, .N = 1024, .odt = F});
    /* uint8 pixels normalised on the device: the host pipeline's floats bit for bit (exact) */
    add_normalize(2, 224, IMAGENET);

    build_emu();
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
        k = snprintf(buf, n, "layernorm M=%d C=%d x %g+-%g out %s%s", c->M, c->N, c->in_mean, c->in_spread,
                     ws_dtype_name(c->odt), c->in_place ? " in place" : "");
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
    case OP_ROW_ARGMAX: k = snprintf(buf, n, "row_argmax M=%d N=%d", c->M, c->N); break;
    case OP_NORMALIZE: k = snprintf(buf, n, "normalize uint8 B=%d R=%d", c->B, c->T); break;
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
    int u8;        /* a buffer of uint8 (v holds 0..255) instead of dt */
} buf;

static uint64_t seed;

static buf make(size_t n, float scale, float offset, ws_dtype dt) {
    buf b = {gpu_random(n, scale, &seed), n, dt, 0};
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
    case OP_LAYERNORM:
        in[0] = make(M * N, c->in_spread, c->in_mean, F), in[1] = make(N, 1.0f, 0, F), in[2] = make(N, 1.0f, 0, F);
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
    case OP_NORMALIZE: {   /* uint8, every value at least once */
        in[0] = make((size_t)c->B * c->T * c->T * 3, 1.0f, 0, F);
        in[0].u8 = 1;
        for (size_t i = 0; i < in[0].n; i++) in[0].v[i] = i < 256 ? (float)i : floorf((in[0].v[i] + 1.0f) * 127.99f);
        return 1;
    }
    case OP_ROW_ARGMAX: {   /* ties (the lower column must win), a NaN among numbers, a row of NaNs,
                             * a row of NaNs and -inf (its first -inf wins) */
        in[0] = make(M * N, 1.0f, 0, F);
        float *s = in[0].v;
        for (size_t m = 0; m < M; m += 3) s[m * N + m % N] = 5.0f, s[m * N + N - 1] = 5.0f;
        for (size_t j = 0; M > 2 && j < N; j++) s[N] = NAN, s[2 * N + j] = NAN;
        for (size_t j = 0; M > 4 && j < N; j++) s[4 * N + j] = j % 2 ? -INFINITY : NAN;
        return 1;
    }
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
    case OP_ROW_ARGMAX: return 2 * (size_t)c->M;   /* idx (int32), then val */
    case OP_NORMALIZE: return (size_t)c->B * 3 * c->T * c->T;
    }
    return 0;
}

static ws_dtype out_dtype(const op_case *c) {
    return c->op == OP_TOKENS || c->op == OP_TOKEN_MEAN ? F : c->odt;
}

/* ---- running on a backend ---------------------------------------------------------------- */

static size_t buf_bytes(const buf *b) { return b->n * (b->u8 ? 1 : ws_dtype_size(b->dt)); }

static void *put(ws_backend *be, const buf *b) {
    void *d = be->ops->alloc(be, buf_bytes(b) + 1);
    void *h = malloc(buf_bytes(b) + 1);
    if (d && h) {
        if (b->u8)
            for (size_t i = 0; i < b->n; i++) ((uint8_t *)h)[i] = (uint8_t)b->v[i];
        else
            ws_convert_from_f32(h, b->dt, b->v, b->n);
        be->ops->upload(be, d, h, buf_bytes(b));
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

/* row_argmax's output [idx (int32) | val] as got[0] = the indices and got[1] = the values, as
 * floats; the value of a row with index -1 must be NaN: compared as 0 (anything else as infinity,
 * a mismatch). */
static void get_argmax(ws_backend *be, const void *d, int M, float **got) {
    int32_t *idx = malloc((size_t)M * sizeof(int32_t) + 1);
    got[0] = malloc((size_t)M * sizeof(float) + 1), got[1] = malloc((size_t)M * sizeof(float) + 1);
    be->ops->download(be, idx, d, (size_t)M * sizeof(int32_t));
    be->ops->download(be, got[1], (const int32_t *)d + M, (size_t)M * sizeof(float));
    for (int m = 0; m < M; m++) {
        got[0][m] = (float)idx[m];
        if (idx[m] == -1) got[1][m] = isnan(got[1][m]) ? 0.0f : INFINITY;
    }
    free(idx);
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
    case OP_ROW_ARGMAX: return o->row_argmax(be, out, (float *)((int32_t *)out + c->M), d[0], c->M, c->N);
    case OP_NORMALIZE: return o->normalize(be, out, d[0], c->B, c->T, c->norm_mean, c->norm_std);
    }
    return WS_ERR_ARG;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

enum { BORDER = 64 };   /* bytes of a poisoned output's border, past its end */

/* Fills an output buffer of `bytes` and its border with 0xff bytes (poison); with check set,
 * instead the count of border bytes no longer 0xff. */
static size_t poison(ws_backend *be, void *out, size_t bytes, int check) {
    unsigned char *h = malloc(check ? BORDER : bytes + BORDER);
    size_t changed = 0;
    if (!h) return 0;
    if (check) {
        be->ops->download(be, h, (unsigned char *)out + bytes, BORDER);
        for (size_t i = 0; i < BORDER; i++) changed += h[i] != 0xff;
    } else {
        memset(h, 0xff, bytes + BORDER);
        be->ops->upload(be, out, h, bytes + BORDER);
    }
    free(h);
    return changed;
}

/* Uploads the inputs, calls the op `iters` times (timed into *seconds when not NULL), downloads
 * the output into got[0] and, for a residual add not in place, the updated x into got[1]. With
 * poisoned set, an output of its own (not in place) is poisoned first and *overrun counts the
 * border bytes the op changed. */
static int run(const op_case *c, ws_backend *be, const buf *in, int nin, int iters, double *seconds, float **got,
               int poisoned, size_t *overrun) {
    void *d[MAX_BUFS] = {0};
    for (int i = 0; i < nin; i++) d[i] = put(be, &in[i]);
    const size_t n = out_size(c), bytes = n * ws_dtype_size(out_dtype(c));
    void *out = c->in_place ? d[0] : be->ops->alloc(be, bytes + BORDER);
    poisoned = poisoned && !c->in_place;
    if (poisoned) poison(be, out, bytes, 0);
    int rc = WS_OK;
    double t0 = now();
    for (int i = 0; i < iters && rc == WS_OK; i++) rc = call(c, be, d, out);
    be->ops->sync(be);
    if (seconds) *seconds = now() - t0;
    if (got && rc == WS_OK && c->op == OP_ROW_ARGMAX) {
        get_argmax(be, out, c->M, got);
    } else if (got && rc == WS_OK) {
        got[0] = get(be, out, n, out_dtype(c));
        got[1] = c->op == OP_RESIDUAL_LAYERNORM && !c->in_place ? get(be, d[0], n, F) : NULL;
    }
    if (overrun) *overrun = poisoned && rc == WS_OK ? poison(be, out, bytes, 1) : 0;
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
    const size_t C = (size_t)NH * hs, nx = (size_t)B * T * 3 * C;
    double *x = malloc(nx * sizeof(double)), *p = malloc((size_t)T * sizeof(double));
    for (size_t i = 0; i < nx; i++) x[i] = round_bf16 ? bf16_round(qkv[i]) : qkv[i];   /* q, k, v as read */
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int i = 0; i < T; i++) {
                const double *q = x + ((size_t)b * T + i) * 3 * C + (size_t)h * hs;
                double mx = -INFINITY, sum = 0;
                for (int j = 0; j < T; j++) {
                    const double *k = x + ((size_t)b * T + j) * 3 * C + C + (size_t)h * hs;
                    double dot = 0;
                    for (int e = 0; e < hs; e++) dot += q[e] * k[e];
                    p[j] = dot / sqrt((double)hs);
                    mx = fmax(mx, p[j]);
                }
                for (int j = 0; j < T; j++) sum += p[j] = exp(p[j] - mx);
                for (int j = 0; j < T; j++) p[j] = round_bf16 ? bf16_round(p[j] / sum) : p[j] / sum;
                double *o = out + ((size_t)b * T + i) * C + (size_t)h * hs;
                for (int e = 0; e < hs; e++) o[e] = 0;
                for (int j = 0; j < T; j++) {
                    const double *v = x + ((size_t)b * T + j) * 3 * C + 2 * C + (size_t)h * hs;
                    for (int e = 0; e < hs; e++) o[e] += p[j] * v[e];
                }
            }
    free(x), free(p);
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
    case OP_NORMALIZE: {   /* the host pipeline's floats (data/preprocess.c): the op must give them bit for bit */
        const size_t img = (size_t)3 * c->T * c->T;
        uint8_t *u8 = malloc(n);
        for (size_t i = 0; i < n; i++) u8[i] = (uint8_t)in[0].v[i];
        for (int b = 0; b < c->B; b++)
            preprocess_normalize(u8 + b * img, c->T, c->norm_mean, c->norm_std, ref[0] + b * img);
        free(u8);
        break;
    }
    case OP_ROW_ARGMAX:   /* as get_argmax gives it: indices, then values (0 for a row of NaNs) */
        ref[1] = malloc(M * sizeof(float) + 1);
        for (size_t m = 0; m < M; m++) {
            int best = -1;
            float bv = 0.0f;
            for (size_t j = 0; j < N; j++) {
                const float v = in[0].v[m * N + j];
                if (!isnan(v) && (best < 0 || v > bv)) best = (int)j, bv = v;
            }
            ref[0][m] = (float)best, ref[1][m] = bv;
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

/* Compares the outputs got of one run (named label) with the reference (on the CPU backend) or
 * the twin (on another), printing each; 0 within the tolerance, else 1 with the reason in why. */
static int compare(const op_case *c, const char *label, int is_cpu, float **got, float **ref, float **twin,
                   char *why, size_t nwhy) {
    char line[300];
    const int argmax = c->op == OP_ROW_ARGMAX;
    const size_t n = argmax ? (size_t)c->M : out_size(c);
    const size_t rows = c->op == OP_ATTENTION ? (size_t)c->B * c->T : c->M > 0 ? (size_t)c->M : 1;
    const char *second = argmax ? ": val" : ": x";   /* the second output: row_argmax's values, the residual stream */
    const double tol2 = argmax ? 0.0 : 1e-6;
    int bad = 0;
    for (int o = 0; o < 2 && got[o]; o++) {
        const ws_dtype dt = o ? F : out_dtype(c);
        snprintf(line, sizeof line, "%s%s vs ref", label, o ? second : "");
        gpu_diff dr = gpu_compare(line, ref[o], got[o], n, rows);
        double tol = o ? tol2 : tol_for(dt, c->tol_ref), err = dr.rel;
        if (!is_cpu) {   /* against the CPU twin */
            snprintf(line, sizeof line, "%s%s vs cpu", label, o ? second : "");
            err = gpu_compare(line, twin[o], got[o], n, rows).rel;
            tol = o ? tol2 : tol_for(dt, c->tol_twin);
        }
        if (!(err <= tol) && !bad) {
            snprintf(why, nwhy, "%s%s: rel err %.3e > tolerance %.1e", label, o ? second : "", err, tol);
            bad = 1;
        }
    }
    return bad;
}

int op_case_check(const op_case *c, ws_backend *be, ws_backend *cpu, const op_run *how, char *why, size_t nwhy) {
    char name[200], label[260];
    op_case_name(c, name, sizeof name);
    buf in[MAX_BUFS];
    const int nin = make_inputs(c, in);
    float *ref[2] = {0}, *twin[2] = {0};
    const int is_cpu = be == cpu, runs = how && how->runs > 1 ? how->runs : 1;
    int bad = 0;
    if (!is_cpu && run(c, cpu, in, nin, 1, NULL, twin, 0, NULL) != WS_OK) {
        snprintf(why, nwhy, "%s on the CPU: %s", name, ws_error_message());
        bad = 1;
    }
    if (!bad) reference(c, in, ref);
    for (int r = 0; r < runs && !bad; r++) {
        const char *note = how && how->before_run ? how->before_run(r) : NULL;
        snprintf(label, sizeof label, "%s%s%s%s", name, note ? " [" : "", note ? note : "", note ? "]" : "");
        float *got[2] = {0};
        size_t overrun = 0;
        if (run(c, be, in, nin, 1, NULL, got, how && how->poison, &overrun) != WS_OK) {
            snprintf(why, nwhy, "%s: %s", label, ws_error_message());
            bad = 1;
        } else if (overrun) {
            snprintf(why, nwhy, "%s: %zu bytes written past the output's end", label, overrun);
            bad = 1;
        } else {
            bad = compare(c, label, is_cpu, got, ref, twin, why, nwhy);
        }
        for (int o = 0; o < 2; o++) free(got[o]);
    }
    for (int o = 0; o < 2; o++) free(ref[o]), free(twin[o]);
    free_bufs(in, nin);
    return bad;
}

double op_case_time(const op_case *c, ws_backend *be, double min_seconds, double *flops, double *bytes) {
    buf in[MAX_BUFS];
    const int nin = make_inputs(c, in);
    double s = 0;
    int iters = 1;
    run(c, be, in, nin, 1, NULL, NULL, 0, NULL);   /* warm-up: plans, scratch, caches */
    while (run(c, be, in, nin, iters, &s, NULL, 0, NULL) == WS_OK && s < min_seconds && iters < (1 << 20)) iters *= 2;
    *bytes = (double)out_size(c) * ws_dtype_size(out_dtype(c));
    for (int i = 0; i < nin; i++) *bytes += (double)buf_bytes(&in[i]);
    *flops = c->op == OP_MATMUL ? 2.0 * c->M * c->N * c->K
           : c->op == OP_ATTENTION ? 4.0 * c->B * c->NH * (double)c->T * c->T * c->hs : 0.0;
    free_bufs(in, nin);
    return s / iters;
}
