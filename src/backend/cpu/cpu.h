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

/* One GEMM implementation for one weights dtype: out[M,N] = in[M,K] . w[N,K]^T + bias (the matmul
 * op's contract, backend.h). WS_OK, or WS_ERR_NOMEM (ws_errorf naming the op and shape) when its
 * scratch cannot be had. */
typedef int (*cpu_gemm_fn)(ws_backend *be, float *out, const float *in, const void *w,
                           const float *bias, int M, int N, int K);

typedef struct cpu_onednn cpu_onednn;

typedef struct {
    cpu_gemm_fn gemm[2];   /* by weights dtype: [0] f32, [1] bf16; set by cpu_gemm_select */
    cpu_onednn *onednn;    /* oneDNN engine, stream and packed weights; NULL until a oneDNN path is chosen */
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

/* GEMM paths (gemm_path.c picks one per weights dtype from WEBSSL_GEMM and the CPU's features;
 * the only file that knows whether oneDNN is built in). */
int cpu_gemm_select(ws_backend *be, ws_dtype wdt, char *desc, size_t n);
void cpu_gemm_forget(ws_backend *be, const void *p, size_t bytes);  /* memory [p, p+bytes) is freed */
void cpu_gemm_free(ws_backend *be);
/* The CPU's SIMD features that the GEMM paths care about, e.g. "avx2 fma" (cpu_features.c). */
void cpu_features_describe(char *buf, size_t n);

/* OpenBLAS paths (matmul.c): f32 sgemm; bf16 weights widened to f32 per thread slice (panels of
 * at most 32 MiB per thread), then sgemm. */
int cpu_gemm_openblas_f32(ws_backend *be, float *out, const float *in, const void *w,
                          const float *bias, int M, int N, int K);
int cpu_gemm_openblas_bf16(ws_backend *be, float *out, const float *in, const void *w,
                           const float *bias, int M, int N, int K);
/* oneDNN paths (matmul_onednn.c, built when oneDNN is found): the matmul primitive on weights
 * reordered once, at first use, into the layout the primitive prefers. */
int cpu_onednn_probe(ws_backend *be, ws_dtype wdt, char *impl, size_t n);
int cpu_onednn_native_bf16(void);
const char *cpu_onednn_isa(void);
int cpu_gemm_onednn_f32(ws_backend *be, float *out, const float *in, const void *w,
                        const float *bias, int M, int N, int K);
int cpu_gemm_onednn_bf16(ws_backend *be, float *out, const float *in, const void *w,
                         const float *bias, int M, int N, int K);
void cpu_onednn_forget(ws_backend *be, const void *p, size_t bytes);
void cpu_onednn_free(ws_backend *be);

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
