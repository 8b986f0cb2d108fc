/* Internal header of the CPU backend: its state, the op functions (one file each) and the
 * scratch-buffer helper. Hot loops are compiled twice (AVX2+FMA and baseline x86-64) and picked
 * at load time, so one binary runs on any x86-64 and is fast on current CPUs. */
#ifndef WEBSSL_BACKEND_CPU_CPU_H
#define WEBSSL_BACKEND_CPU_CPU_H

#include "backend/backend.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define CPU_HOT __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define CPU_HOT
#endif

enum { CPU_MAX_THREADS = 256 };

typedef struct {
    float *scratch;        /* grows on demand; used by one op at a time (ops are not reentrant) */
    size_t scratch_bytes;
    float *thread_scratch[CPU_MAX_THREADS];        /* one per OpenMP thread, kept between calls */
    size_t thread_scratch_bytes[CPU_MAX_THREADS];
} cpu_state;

/* The backend's scratch buffer of at least `bytes`; NULL when out of memory. */
float *cpu_scratch(ws_backend *be, size_t bytes);
/* The calling OpenMP thread's own scratch buffer of at least `bytes` (call inside a parallel
 * region; each thread touches only its slot). Kept between calls, so hot loops do not fault in
 * fresh pages. NULL when out of memory. */
float *cpu_thread_scratch(ws_backend *be, size_t bytes);

void cpu_matmul(ws_backend *be, float *out, const float *in, const void *w, ws_dtype wdt,
                const float *bias, int M, int N, int K);
void cpu_layernorm(ws_backend *be, float *out, const float *in, const float *w, const float *b,
                   int M, int C, float eps);
void cpu_gelu(ws_backend *be, float *x, size_t n);
void cpu_swiglu(ws_backend *be, float *out, const float *in, int M, int H);
void cpu_residual(ws_backend *be, float *x, const float *y, const float *bias, const float *gamma,
                  int M, int C);
void cpu_im2col(ws_backend *be, float *cols, const float *pixels, int B, int R, int P);
void cpu_tokens(ws_backend *be, float *x, const float *patches, const float *cls, const float *reg,
                const float *pos, int B, int nreg, int g2, int C);
void cpu_attention(ws_backend *be, float *out, const float *qkv, int B, int N, int NH, int hs,
                   int round_bf16);
void cpu_token_mean(ws_backend *be, float *out, const float *x, int B, int N, int first, int C);

#endif
