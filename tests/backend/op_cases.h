/* The one list of backend op cases (as ggml's test-backend-ops): each case (op, shapes, dtypes,
 * epilogue, bias and LayerScale, heads, the rank's share of a tensor-parallel split, the spread of
 * its input rows) is declared once in op_cases.c and run on any backend. On the CPU backend a case
 * is checked against a double-precision reference; on another backend (CUDA, real or emulated)
 * against its CPU twin, the reference's error printed beside it. op_case_time measures a case for
 * --perf.
 *
 * Users: test_backend_ops.c (every case on one backend, --list, or --perf), tests/gpu/test_cuda_ops.c
 * (the CUDA backend; also built as emu_cuda_ops over the emulated backend), and the emulator's
 * kernel tests (tests/emu/test_emu_kernels.c, test_emu_attention.c), which run the cases marked
 * with their emu_case under every thread schedule with poisoned outputs (op_run). No CUDA needed
 * here. */
#ifndef WEBSSL_TESTS_BACKEND_OP_CASES_H
#define WEBSSL_TESTS_BACKEND_OP_CASES_H

#include <stddef.h>

#include "backend/backend.h"
#include "common/dtype.h"

typedef enum {
    OP_MATMUL,               /* out[M,N] = epi(in[M,K] w[N,K]^T + bias) */
    OP_LAYERNORM,            /* out[M,C] (odt), in place when f32 and in_place */
    OP_RESIDUAL_LAYERNORM,   /* x[M,C] += gamma (y + bias); xn = LN(x) (odt; in place into x) */
    OP_SWIGLU,               /* out[M,H] = silu(in[:, :H]) in[:, H:] */
    OP_IM2COL,               /* pixels [B,3,R,R] -> cols [B g^2, 3 P^2] */
    OP_TOKENS,               /* x[B,N,C] from patches, cls, registers, positions */
    OP_TOKEN_MEAN,           /* out[B,C] = mean of rows [first, N) */
    OP_ATTENTION,            /* softmax(q k^T / sqrt(hs)) v over B images, N tokens, NH heads */
    OP_ROW_ARGMAX,           /* idx[M] (int32), val[M]: each row's largest of scores[M,N] */
    OP_NORMALIZE,            /* pixels[B,3,R,R] (f32) from uint8 images [B,R,R,3], mean and std */
} op_kind;

typedef struct {
    op_kind op;
    const char *family;      /* the group a test case runs: matmul, layernorm, residual_layernorm,
                              * swiglu, patch_tokens, attention, row_argmax, normalize */
    const char *shape;       /* where the shape comes from ("dino300m qkv"), or NULL */
    int M, N, K;             /* matmul M N K; layernorm, residual: M rows of C = N; swiglu: M, H = N;
                              * token_mean: B = M, N tokens, C = K; row_argmax: M rows of N */
    int B, T, NH, hs;        /* attention: B images of T tokens, NH heads of hs; im2col: B, R = T,
                              * P = hs; tokens: B, nreg = NH, g2 = T, C = hs; normalize: B, R = T */
    ws_dtype odt;            /* output dtype (matmul, layernorm, residual xn, swiglu, im2col, attention) */
    ws_dtype idt;            /* matmul input; residual y */
    ws_dtype wdt;            /* matmul weights */
    int epi, bias, gamma;    /* matmul GELU epilogue and bias; residual bias and LayerScale */
    int in_place, round_bf16;
    int tp_rank, tp;         /* the share of a tp split the shape is (0 and 0: no split) */
    float in_mean, in_spread;   /* layernorm: x = in_mean + in_spread * uniform[-1, 1) */
    const float *norm_mean, *norm_std;   /* normalize: per channel */
    double tol_ref;          /* max abs err / max |ref| against the double reference, CPU backend */
    double tol_twin;         /* the same against the CPU twin, other backends */
    const char *emu_case;    /* the test case of the emulator's kernel tests (tests/emu) that runs
                              * this case under every thread schedule ("layernorm", "attention_mma",
                              * ...; emu_cuda_ops then leaves it out), or NULL: emu_cuda_ops runs it
                              * once */
} op_case;

/* How a case is run beyond one call of its op (the emulator's kernel tests): every output filled
 * with 0xff bytes (NaN in f32 and bf16) and followed by a border of them, so an element left
 * unwritten or a write past the end fails the case; and several runs of the backend against one
 * reference and twin, each after before_run(run), which may change how the backend runs (the
 * emulator's thread schedule) and returns the run's name for the printed lines. */
typedef struct {
    int poison;
    int runs;                             /* 0 or 1: one run */
    const char *(*before_run)(int run);   /* NULL: none */
} op_run;

/* The list (built once, in declaration order) and its length in *count. */
const op_case *op_cases(size_t *count);

/* "matmul w bf16 in fp32 out fp32 +bias M=514 N=384 K=256 (dino300m qkv, tp 1/2)". */
void op_case_name(const op_case *c, char *buf, size_t n);

/* Run case c on `be` as `how` says (NULL: once, plainly), check it (see the top of this file;
 * `cpu` is the CPU backend, the twin when be is another one) and print one line per output and
 * run with its errors. 0 when every run is within the tolerance, else 1 with the reason of the
 * first that is not in why[n] (the runs after it are not made). */
int op_case_check(const op_case *c, ws_backend *be, ws_backend *cpu, const op_run *how, char *why, size_t n);

/* The double-precision attention core: out[B*T, NH*hs] = softmax(q k^T / sqrt(hs)) v per image
 * and head from qkv [B*T, 3*NH*hs]; with round_bf16, q, k, v and the probabilities rounded to
 * bf16 as the backends do. */
void op_reference_attention(const float *qkv, int B, int T, int NH, int hs, int round_bf16, double *out);

/* Seconds per call of case c on `be` (after one warm-up call, over at least min_seconds), and the
 * work one call does: *flops (0 for data movement) and *bytes read and written. */
double op_case_time(const op_case *c, ws_backend *be, double min_seconds, double *flops, double *bytes);

#endif
