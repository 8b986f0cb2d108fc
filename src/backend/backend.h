/* Compute backend interface: a small table of the operations the ViT forward pass needs
 * (model/forward.c calls them in model order), filled by each implementation with designated
 * initialisers. Implementations: CPU (backend/cpu/, BLAS + OpenMP, one op per file) and CUDA
 * (backend/cuda/). backend.c is the only file that picks one.
 *
 * Conventions for every op:
 *   - Tensors are row-major, in backend memory (device memory for CUDA); "M" rows are tokens
 *     (B*N), "C" the embedding width.
 *   - Every op returns WS_OK or an error set with ws_errorf naming the op, the shape and what
 *     failed: scratch memory it could not get (WS_ERR_NOMEM), a device failure (WS_ERR_DEVICE).
 *     No op aborts; the forward pass checks each one.
 *   - Dtypes: `dt`, `odt`, `idt`, `ydt` are WS_DTYPE_F32 or WS_DTYPE_BF16 (bf16 stored as uint16_t
 *     bit patterns). Activations between ops (the model's xn, qkv, att, ffn, hid, cols) are in
 *     the dtype activation_dtype answers. Always f32, whatever that dtype: the residual stream x
 *     (it accumulates every block's update; bf16's 8 bits of mantissa would lose the small
 *     LayerScale-scaled updates), LayerNorm statistics and softmax with its sums (reductions over
 *     hundreds to thousands of terms), the patch embeddings, pooled outputs and the final
 *     LayerNorm's output (the features a user stores).
 *   - GEMM weights `w` are [N, K] (PyTorch nn.Linear layout: out_features x in_features) in the
 *     weights dtype `wdt` (f32, or bf16).
 *   - bf16 semantics follow torch.autocast: a GEMM multiplies in its weights' dtype; for bf16
 *     weights its input is rounded to bf16 (a bf16 input already is), products are accumulated in
 *     f32, and the result is rounded once when it is stored as bf16 (a bf16 input with f32
 *     weights is widened: an f32 product, which the model never asks for). Attention rounds q, k,
 *     v and the probabilities to bf16 when `round_bf16` is set. Elementwise ops read their inputs
 *     in their dtype and compute in f32.
 * Besides the ops, the table holds what the driver and the communicators need from a device:
 * host buffers the device copies from at full speed, asynchronous uploads, the device's identity,
 * the queue ops run on and the scratch memory the ops hold (for the memory check); backend_device_count and backend_memory_info ask about devices before
 * a backend exists (the GPU for a rank, --tp auto, the memory check).
 * A new backend fills every field of ws_backend_ops; tests/model checks each against the CPU. */
#ifndef WEBSSL_BACKEND_BACKEND_H
#define WEBSSL_BACKEND_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "backend/epilogue.h"
#include "common/dtype.h"

typedef struct ws_backend ws_backend;

/* What a matmul's weights are, for gemm_select: a model's, or data rewritten between calls. */
typedef enum { WS_GEMM_MODEL, WS_GEMM_DATA } ws_gemm_use;

typedef struct {
    const char *name;
    /* Memory: 64-byte aligned, NULL when out of memory. upload/download copy host <-> backend. */
    void *(*alloc)(ws_backend *be, size_t bytes);
    void (*free)(ws_backend *be, void *p);
    void (*upload)(ws_backend *be, void *dst, const void *src_host, size_t bytes);
    void (*download)(ws_backend *be, void *dst_host, const void *src, size_t bytes);
    /* Wait for queued work (no-op on CPU). */
    void (*sync)(ws_backend *be);
    /* Release the implementation state and `be` itself. */
    void (*destroy)(ws_backend *be);
    /* Host memory for buffers that are uploaded or downloaded often (pinned on CUDA, so copies
     * run asynchronously at full bus speed; plain on CPU). NULL when out of memory. */
    void *(*host_alloc)(ws_backend *be, size_t bytes);
    void (*host_free)(ws_backend *be, void *p);
    /* Enqueue dst (backend) <- src_host (from host_alloc) and return at once: ops enqueued later
     * see the data. src_host must stay untouched until upload_wait returns. A copy on CPU. */
    void (*upload_async)(ws_backend *be, void *dst, const void *src_host, size_t bytes);
    /* Block until every upload_async issued so far has finished reading its host buffer. */
    void (*upload_wait)(ws_backend *be);
    /* 16 bytes that tell physical devices apart (CUDA: the GPU UUID, the same whichever ordinal
     * a process sees it under; CPU: zeros). */
    void (*device_uuid)(ws_backend *be, unsigned char uuid[16]);
    /* The queue ops are enqueued on, for a communicator that enqueues on it too (CUDA: the
     * cudaStream_t); NULL on CPU. */
    void *(*stream)(ws_backend *be);
    /* Bytes the ops hold beyond the model's activations for images of N tokens, for memory checks
     * made before a model is loaded (CPU: one N x N f32 attention score matrix per thread; CUDA:
     * 0, its attention is tiled). */
    size_t (*scratch_bytes)(ws_backend *be, int N);

    /* Choose how matmul multiplies weights of dtype `wdt`; called once by the model at load (or
     * by a curation step before its GEMMs), before any matmul with such weights. `use` says what
     * the weights are: a model's (large, written once) or data (small, rewritten between calls:
     * k-means centroids, a cluster's rows), which may take another path. Writes a one-line
     * description (the GEMM path and, on CPU, the CPU features it relies on) into desc[n]. WS_OK,
     * or an error naming the path and what is missing (e.g. a forced GEMM path this CPU or build
     * cannot run). */
    int (*gemm_select)(ws_backend *be, ws_dtype wdt, ws_gemm_use use, char *desc, size_t n);
    /* The dtype of the activations between ops for weights of dtype `wdt` (see the conventions
     * above); asked once by the model at load, after gemm_select. CUDA: bf16 when wdt is bf16,
     * else f32. CPU: bf16 only when the chosen bf16 GEMM path multiplies bf16 natively (oneDNN on
     * AVX512_BF16 / AMX), else f32 (sgemm needs f32 inputs: widening stored bf16 activations
     * would cost more than it saves; WEBSSL_ACTIVATIONS forces it, backend/cpu/gemm_path.c). */
    ws_dtype (*activation_dtype)(ws_backend *be, ws_dtype wdt);
    /* 1 when matmul takes WS_EPILOGUE_SWIGLU for weights of dtype `wdt` (the gate and its product
     * in one pass), else 0: the model then runs the product and the swiglu op apart. Asked once by
     * the model at load, after gemm_select. CPU: on the oneDNN paths (two products, the second
     * with oneDNN's swish and multiply post-ops); CUDA: 0. */
    int (*fuses_swiglu)(ws_backend *be, ws_dtype wdt);
    /* out[M,N] = epi(in[M,K] . w[N,K]^T + bias[N]); bias may be NULL. GELU: the exact erf form
     * on CPU and on CUDA with f32 out; CUDA with bf16 out uses cuBLASLt's GELU_BIAS epilogue, the
     * tanh approximation (a documented difference: at most 4.7e-4 absolute from the erf form). */
    int (*matmul)(ws_backend *be, void *out, ws_dtype odt, const void *in, ws_dtype idt,
                  const void *w, ws_dtype wdt, const float *bias, ws_epilogue epi, int M, int N, int K);
    /* out[M,C] = (in - mean) / sqrt(var + eps) * w + b per row (biased variance, f32 statistics),
     * stored as odt. out may be in when odt is f32. */
    int (*layernorm)(ws_backend *be, void *out, ws_dtype odt, const float *in, const float *w,
                     const float *b, int M, int C, float eps);
    /* x[M,C] += gamma * (y + bias) (bias, gamma [C] or NULL: absent; y of dtype ydt), then
     * xn = LayerNorm(x) * ln_w + ln_b stored as odt: every residual add is followed by a
     * LayerNorm (ln2, the next block's ln1, or the final one). xn may be x when odt is f32 (the
     * final LayerNorm writes the features in place). */
    int (*residual_layernorm)(ws_backend *be, float *x, const void *y, ws_dtype ydt, const float *bias,
                              const float *gamma, void *xn, ws_dtype odt, const float *ln_w,
                              const float *ln_b, int M, int C, float eps);
    /* out[M,H] = silu(in[:, 0:H]) * in[:, H:2H]  (in is [M, 2H]: gate half, then linear half);
     * in and out of dtype dt. */
    int (*swiglu)(ws_backend *be, void *out, const void *in, ws_dtype dt, int M, int H);
    /* Patch extraction (im2col): pixels [B,3,R,R] (f32) -> cols [B*g*g, 3*P*P] of dtype dt,
     * g = R/P, rows in raster order of the patch grid, columns in (channel, y, x) order as in
     * Conv2d weights. */
    int (*im2col)(ws_backend *be, void *cols, ws_dtype dt, const float *pixels, int B, int R, int P);
    /* Token assembly (f32): x[B,N,C] with N = 1 + nreg + g2: row 0 = cls + pos[0], rows
     * 1..nreg = reg (no position), rows 1+nreg.. = patches[b*g2 + p] + pos[1+p]. */
    int (*tokens)(ws_backend *be, float *x, const float *patches, const float *cls,
                  const float *reg, const float *pos, int B, int nreg, int g2, int C);
    /* Multi-head self-attention core for NH heads of size hs: qkv [B*N, 3*NH*hs] holds q rows,
     * then k, then v (head h at columns h*hs of each third); out [B*N, NH*hs] = softmax(q k^T /
     * sqrt(hs)) v per (image, head); qkv and out both of dtype dt, softmax in f32. */
    int (*attention)(ws_backend *be, void *out, const void *qkv, ws_dtype dt, int B, int N, int NH,
                     int hs, int round_bf16);
    /* out[B,C] = mean over rows [first, N) of x[B,N,C] (f32). */
    int (*token_mean)(ws_backend *be, float *out, const float *x, int B, int N, int first, int C);
    /* Per row m of scores[M,N] (f32): idx[m] = the column of the largest value, the lowest such
     * column on ties, and val[m] = that value (idx int32, val f32, backend memory). NaN never wins
     * over a number; a row of NaNs gives idx -1 and val NaN. With matmul it is the nearest-centroid
     * assignment of k-means (curate/): scores = rows . centroids^T + bias. */
    int (*row_argmax)(ws_backend *be, int32_t *idx, float *val, const float *scores, int M, int N);

    /* Host pipeline (model/forward.c: pixels in, outputs out, captured forward passes). Each
     * returns WS_OK or an error naming the call and the device. */
    /* 1 when the forward pass should take uint8 pixels and normalise them with `normalize` (CUDA:
     * 4x less to upload, no float work on the host); 0 when the host pipeline's floats are
     * cheaper (CPU: its decoding threads normalise in parallel, the forward thread would not). */
    int normalises_u8;
    /* pixels[B,3,R,R] (f32) = normalised u8[B,R,R,3] (HWC, as the pipeline crops it), the
     * arithmetic of common/pixel_norm.h bit for bit (mean and std per channel). */
    int (*normalize)(ws_backend *be, float *pixels, const uint8_t *u8, int B, int R, const float mean[3],
                     const float std[3]);
    /* Input slots 0 and 1 (double buffering). slot_upload enqueues dst (backend) <- src_host
     * once every op enqueued before the slot's last slot_release has finished (so a buffer is
     * never overwritten while an op reads it), and makes the ops enqueued after it wait for the
     * copy; it returns at once (CUDA: on the copy queue, ordered by events). src_host (from
     * host_alloc for an asynchronous copy) stays untouched until upload_wait returns.
     * slot_release marks the ops enqueued so far as the last readers of the slot (and the last
     * work slot_wait waits for). CPU: a copy and a no-op. */
    int (*slot_upload)(ws_backend *be, int slot, void *dst, const void *src_host, size_t bytes);
    int (*slot_release)(ws_backend *be, int slot);
    /* Block until the ops enqueued before the slot's last slot_release have finished (work
     * enqueued after it may still run). CPU: a no-op. */
    int (*slot_wait)(ws_backend *be, int slot);
    /* Enqueue rows copies of row_bytes bytes, backend memory to backend memory: row i from
     * src + i*src_pitch to dst + i*row_bytes (packed). */
    int (*copy_rows)(ws_backend *be, void *dst, const void *src, size_t row_bytes, size_t src_pitch,
                     size_t rows);
    /* Enqueue dst_host (from host_alloc) <- src and return; the data is there after `sync`. */
    int (*download_async)(ws_backend *be, void *dst_host, const void *src, size_t bytes);
    /* Captured forward passes (CUDA graphs): graph_capturable says whether the ops can be
     * captured now (CUDA: 1 unless WEBSSL_CUDA_SYNC waits after each op; CPU: 0). Between
     * graph_begin and graph_end the ops enqueued are recorded instead of run (no host
     * synchronisation allowed); graph_end returns the executable graph in *graph, graph_launch
     * enqueues it, graph_free releases it. */
    int (*graph_capturable)(ws_backend *be);
    int (*graph_begin)(ws_backend *be);
    int (*graph_end)(ws_backend *be, void **graph);
    int (*graph_launch)(ws_backend *be, void *graph);
    void (*graph_free)(ws_backend *be, void *graph);
} ws_backend_ops;

struct ws_backend {
    const ws_backend_ops *ops;
    int threads;   /* CPU threads for this backend's work (OpenMP and BLAS) */
    int device;    /* CUDA device ordinal; unused on CPU */
    int host_memory;  /* 1 when backend memory is host memory (upload/download are copies) */
    void *impl;    /* implementation state (scratch buffers, handles) */
};

/* Create a backend by name: "cpu" (threads > 0 sets the OpenMP thread count, 0 keeps the
 * default; OpenBLAS is switched to one thread for the whole process, since the CPU ops run their
 * BLAS calls inside OpenMP regions; GEMM paths: backend/cpu/gemm_path.c) or "cuda" (device
 * ordinal `device`; an error when built without CUDA). Returns WS_OK or an error naming the backend. */
int backend_create(const char *name, int threads, int device, ws_backend **out);
void backend_free(ws_backend *be);

/* Devices of kind `name` this process sees: 1 for "cpu", the visible GPUs for "cuda" (0 when
 * there is none or no driver). WS_ERR_UNSUPPORTED when the build lacks that backend, WS_ERR_ARG
 * for an unknown name (messages name the device). */
int backend_device_count(const char *name);

/* Free and total memory in bytes of device `device` of kind `name`: for "cpu" the available and
 * total host memory, for "cuda" what cudaMemGetInfo reports (made current first). WS_OK, or an
 * error naming the device. The one place device memory is read. */
int backend_memory_info(const char *name, int device, size_t *free_bytes, size_t *total_bytes);

/* OpenBLAS kernels for this CPU (backend/cpu/blas_core.c): called first in main with main's argv.
 * When OPENBLAS_CORETYPE is unset and the OpenBLAS kernels loaded lack the AVX2 the CPU has (a
 * CPU newer than the library), sets it and executes the program again; returns otherwise. */
void backend_cpu_blas_fix(char **argv);
/* The OPENBLAS_CORETYPE to ask for, given the kernel set OpenBLAS chose (`core`, its
 * openblas_get_corename()) and the CPU's features; NULL when the chosen one is right. */
const char *backend_cpu_blas_core_wanted(const char *core, int avx2_fma, int avx512);

/* The implementations (backend.c dispatches to them). */
int backend_cpu_create(int threads, ws_backend **out);
int backend_cpu_memory_info(size_t *free_bytes, size_t *total_bytes);
#ifdef WEBSSL_HAVE_CUDA
int backend_cuda_create(int device, ws_backend **out);
int backend_cuda_device_count(void);
int backend_cuda_memory_info(int device, size_t *free_bytes, size_t *total_bytes);
#endif

#endif
