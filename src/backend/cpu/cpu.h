/* Internal header of the CPU backend: its state, the op functions (one file each) and the
 * scratch-buffer helper. Hot loops are compiled twice (AVX2+FMA and baseline x86-64) and picked
 * at load time, so one binary runs on any x86-64 and is fast on current CPUs. */
#ifndef WEBSSL_BACKEND_CPU_CPU_H
#define WEBSSL_BACKEND_CPU_CPU_H

#include "backend/backend.h"
#include "common/hot.h"

#define CPU_HOT WS_HOT

/* One matmul call: out[M,N] = epi(in[M,K] . w[N,K]^T + bias) stored as odt, in of dtype idt (f32 or
 * bf16 each), w of the path's weights dtype, bias NULL or [N]. */
typedef struct {
    void *out;
    ws_dtype odt, idt;
    ws_epilogue epi;
    const void *in, *w;
    const float *bias;
    int M, N, K;
} cpu_gemm_call;

/* One GEMM implementation for one weights dtype: the whole call, its dtype conversions and
 * epilogue included, in the product's parallel region or primitive where the path can (OpenBLAS:
 * always; oneDNN: bias, GELU and the output of bf16 weights; an input in the other dtype is
 * converted first). WS_OK, or an error naming the shape (WS_ERR_NOMEM when scratch memory cannot
 * be had). */
typedef int (*cpu_gemm_fn)(ws_backend *be, const cpu_gemm_call *g);

typedef struct cpu_onednn cpu_onednn;
typedef struct cpu_onednn_attention cpu_onednn_attention;

typedef struct {
    cpu_gemm_fn gemm[2];   /* by weights dtype: [0] f32, [1] bf16; set by cpu_gemm_select */
    int bf16_activations;  /* bf16 compute keeps activations in bf16: gemm[1] multiplies bf16
                            * natively, or WEBSSL_ACTIVATIONS=bf16 (set by cpu_gemm_select) */
    int gemm_drop_plain;   /* a GEMM path that keeps weights reordered may give the pages of the
                            * plain weights back: the model's, read by nothing but matmuls (set by
                            * cpu_gemm_select) */
    cpu_onednn *onednn;    /* oneDNN engine and stream (shared by every oneDNN call), GEMM primitives and
                            * packed weights; NULL until oneDNN is first used */
    /* attention rounded to bf16 on the native GEMM path (cpu_attention_onednn with the oneDNN bf16
     * GEMM, set by cpu_gemm_select); NULL: cpu_attention's own sgemm path */
    int (*attention_bf16)(ws_backend *be, void *out, const void *qkv, ws_dtype dt, int B, int N, int NH,
                          int hs);
    cpu_onednn_attention *onednn_attention;  /* its primitives; NULL until first used */
    float *scratch;        /* grows on demand; used by one op at a time (ops are not reentrant) */
    size_t scratch_bytes;
    float *io_scratch;     /* the GEMM paths' converted inputs and f32 products of bf16 outputs */
    size_t io_scratch_bytes;
    float **thread_scratch;       /* [nslots] one per OpenMP thread, kept between calls */
    size_t *thread_scratch_bytes; /* [nslots] */
    int nslots;                   /* grown by cpu_thread_slots to the OpenMP thread count */
} cpu_state;

/* The backend's scratch buffer of at least `bytes` (GEMM paths, attention); NULL when out of
 * memory. */
float *cpu_scratch(ws_backend *be, size_t bytes);
/* A second buffer, for cpu_matmul's dtype conversions around a GEMM path that itself uses
 * cpu_scratch; NULL when out of memory. */
float *cpu_io_scratch(ws_backend *be, size_t bytes);
/* One scratch slot per thread of the next parallel region (omp_get_max_threads(), however many):
 * call outside the region, before any cpu_thread_scratch in it. WS_OK or WS_ERR_NOMEM. */
int cpu_thread_slots(ws_backend *be);
/* The calling OpenMP thread's own scratch buffer of at least `bytes` (call inside a parallel
 * region opened after cpu_thread_slots; each thread touches only its slot). Kept between calls,
 * so hot loops do not fault in fresh pages. NULL when out of memory (or no slot). */
float *cpu_thread_scratch(ws_backend *be, size_t bytes);

/* GEMM paths (gemm_path.c picks one per weights dtype from WEBSSL_GEMM and the CPU's features;
 * the only file that knows whether oneDNN is built in). */
int cpu_gemm_select(ws_backend *be, ws_dtype wdt, ws_gemm_use use, char *desc, size_t n);
void cpu_gemm_forget(ws_backend *be, const void *p, size_t bytes);  /* memory [p, p+bytes) is freed */
void cpu_gemm_free(ws_backend *be);
ws_dtype cpu_activation_dtype(ws_backend *be, ws_dtype wdt);
int cpu_fuses_swiglu(ws_backend *be, ws_dtype wdt);   /* the chosen path takes WS_EPILOGUE_SWIGLU */
/* The CPU's SIMD features that the GEMM paths care about, e.g. "avx2 fma" (cpu_features.c). */
void cpu_features_describe(char *buf, size_t n);
int cpu_vendor_amd(void);   /* 1 on an AMD CPU (cpu_features.c) */

/* OpenBLAS paths (matmul.c): f32 sgemm; bf16 weights widened to f32 per thread slice (panels of
 * at most 32 MiB per thread), then sgemm. */
int cpu_gemm_openblas_f32(ws_backend *be, const cpu_gemm_call *g);
int cpu_gemm_openblas_bf16(ws_backend *be, const cpu_gemm_call *g);
/* oneDNN paths (matmul_onednn.c, built when oneDNN is found): the matmul primitive on weights
 * reordered once, at first use, into the layout the primitive prefers; GELU and a bf16 output
 * are the primitive's. */
int cpu_onednn_probe(ws_backend *be, ws_dtype wdt, char *impl, size_t n);
int cpu_onednn_native_bf16(void);
int cpu_onednn_avx512(void);   /* oneDNN's effective ISA includes AVX-512 (avx512_core) */
const char *cpu_onednn_isa(void);
int cpu_gemm_onednn_f32(ws_backend *be, const cpu_gemm_call *g);
int cpu_gemm_onednn_bf16(ws_backend *be, const cpu_gemm_call *g);
void cpu_onednn_forget(ws_backend *be, const void *p, size_t bytes);
void cpu_onednn_free(ws_backend *be);
/* The attention core with bf16 rounding through oneDNN's bf16 matmul (attention_onednn.c, built
 * with oneDNN): as cpu_attention with round_bf16 set. */
int cpu_attention_onednn(ws_backend *be, void *out, const void *qkv, ws_dtype dt, int B, int N, int NH,
                         int hs);
void cpu_attention_onednn_free(ws_backend *be);

/* Element i of a buffer of dtype dt (f32 or bf16) as f32, and v stored there. */
static inline float cpu_load(const void *p, ws_dtype dt, size_t i) {
    return dt == WS_DTYPE_BF16 ? ws_bf16_to_f32(((const uint16_t *)p)[i]) : ((const float *)p)[i];
}
static inline void cpu_store(void *p, ws_dtype dt, size_t i, float v) {
    if (dt == WS_DTYPE_BF16) ((uint16_t *)p)[i] = ws_f32_to_bf16(v);
    else ((float *)p)[i] = v;
}

/* The matmul epilogue (epilogue.c): out = epi(acc) stored as odt for rows [m0, m1) and columns
 * [c0, c1) of row-major matrices with leading dimension ld (out and acc alike); out may be acc
 * when odt is f32. Serial: each thread of a region calls it on its own part. GELU is the exact
 * erf form, as nn.GELU() computes. */
void cpu_epilogue(void *out, ws_dtype odt, const float *acc, ws_epilogue epi, int m0, int m1, int c0, int c1,
                  int ld);
/* The calling thread's share [*r0, *r1) of n rows (call inside a parallel region). */
void cpu_thread_rows(size_t n, size_t *r0, size_t *r1);
/* One row of LayerNorm (layernorm.c): out[C] = (x - mean) / sqrt(var + eps) * w + b as odt, f32
 * statistics (two passes, as torch); out may be x when odt is f32. */
void cpu_layernorm_row(void *out, ws_dtype odt, const float *x, const float *w, const float *b, int C,
                       float eps);
/* dst[i] = src[i] widened from bf16, rounded to bf16 and kept as f32, or stored as bf16, n
 * elements (epilogue.c). Worksharing loops (`omp for`, with its barrier): every thread of a
 * region calls them. */
void cpu_widen(float *dst, const uint16_t *src, size_t n);
void cpu_round_bf16(float *dst, const float *src, size_t n);
void cpu_to_bf16(uint16_t *dst, const float *src, size_t n);

/* The ops of the table (backend.h), one per file. */
int cpu_matmul(ws_backend *be, void *out, ws_dtype odt, const void *in, ws_dtype idt, const void *w,
               ws_dtype wdt, const float *bias, ws_epilogue epi, int M, int N, int K);
int cpu_layernorm(ws_backend *be, void *out, ws_dtype odt, const float *in, const float *w,
                  const float *b, int M, int C, float eps);
int cpu_residual_layernorm(ws_backend *be, float *x, const void *y, ws_dtype ydt, const float *bias,
                           const float *gamma, void *xn, ws_dtype odt, const float *ln_w,
                           const float *ln_b, int M, int C, float eps);
int cpu_swiglu(ws_backend *be, void *out, const void *in, ws_dtype dt, int M, int H);
int cpu_im2col(ws_backend *be, void *cols, ws_dtype dt, const float *pixels, int B, int R, int P);
int cpu_tokens(ws_backend *be, float *x, const float *patches, const float *cls, const float *reg,
               const float *pos, int B, int nreg, int g2, int C);
int cpu_attention(ws_backend *be, void *out, const void *qkv, ws_dtype dt, int B, int N, int NH,
                  int hs, int round_bf16);
int cpu_token_mean(ws_backend *be, float *out, const float *x, int B, int N, int first, int C);
int cpu_row_argmax(ws_backend *be, int32_t *idx, float *val, const float *scores, int M, int N);

/* Host-pipeline entries (pixels.c). */
int cpu_normalize(ws_backend *be, float *pixels, const uint8_t *u8, int B, int R, const float mean[3],
                  const float std[3]);
int cpu_slot_upload(ws_backend *be, int slot, void *dst, const void *src_host, size_t bytes);
int cpu_slot_release(ws_backend *be, int slot);
int cpu_slot_wait(ws_backend *be, int slot);
int cpu_copy_rows(ws_backend *be, void *dst, const void *src, size_t row_bytes, size_t src_pitch,
                  size_t rows);
int cpu_download_async(ws_backend *be, void *dst_host, const void *src, size_t bytes);
int cpu_graph_capturable(ws_backend *be);
int cpu_graph_begin(ws_backend *be);
int cpu_graph_end(ws_backend *be, void **graph);
int cpu_graph_launch(ws_backend *be, void *graph);
void cpu_graph_free(ws_backend *be, void *graph);

#endif
