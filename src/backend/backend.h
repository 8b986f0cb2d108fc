/* Compute backend interface: a small table of the operations the ViT forward pass needs
 * (model/forward.c calls them in model order), filled by each implementation with designated
 * initialisers. Implementations: CPU (backend/cpu/, BLAS + OpenMP, one op per file) and CUDA
 * (backend/cuda/). backend.c is the only file that picks one.
 *
 * Conventions for every op:
 *   - Tensors are row-major. Activations are f32 in backend memory (device memory for CUDA);
 *     "M" rows are tokens (B*N), "C" the embedding width.
 *   - GEMM weights `w` are [N, K] (PyTorch nn.Linear layout: out_features x in_features) in the
 *     weights dtype `wdt` (f32, or bf16 stored as uint16_t bit patterns).
 *   - bf16 semantics follow torch.autocast: when `wdt` is bf16, GEMM inputs (activations) are
 *     rounded to bf16 before the product and products are accumulated in f32; attention rounds
 *     q, k, v and the probabilities to bf16 when `round_bf16` is set; LayerNorm, softmax and the
 *     residual stream stay f32.
 *   - Ops return nothing: they run on buffers the model allocated through `alloc`. A device
 *     failure, or scratch memory an op cannot get (CPU attention and bf16 GEMM inputs, CUDA bf16
 *     GEMM inputs), is fatal (common/check.h); the forward pass's own buffers are allocated
 *     before the first op, so running out of memory there is an error it returns.
 * Besides the ops, the table holds what the driver and the communicators need from a device:
 * host buffers the device copies from at full speed, asynchronous uploads, the device's identity,
 * the queue ops run on and the scratch memory the ops hold (for the memory check); backend_device_count and backend_memory_info ask about devices before
 * a backend exists (the GPU for a rank, --tp auto, the memory check).
 * A new backend fills every field of ws_backend_ops; tests/model checks each against the CPU. */
#ifndef WEBSSL_BACKEND_BACKEND_H
#define WEBSSL_BACKEND_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "common/dtype.h"

typedef struct ws_backend ws_backend;

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

    /* Choose how matmul multiplies weights of dtype `wdt`; called once by the model at load,
     * before any matmul with such weights. Writes a one-line description (the GEMM path and, on
     * CPU, the CPU features it relies on) into desc[n]. WS_OK, or an error naming the path and
     * what is missing (e.g. a forced GEMM path this CPU or build cannot run). */
    int (*gemm_select)(ws_backend *be, ws_dtype wdt, char *desc, size_t n);
    /* out[M,N] = in[M,K] . w[N,K]^T (+ bias[N] when not NULL). */
    void (*matmul)(ws_backend *be, float *out, const float *in, const void *w, ws_dtype wdt,
                   const float *bias, int M, int N, int K);
    /* out[M,C] = (in - mean) / sqrt(var + eps) * w + b, per row, biased variance. out may be in. */
    void (*layernorm)(ws_backend *be, float *out, const float *in, const float *w, const float *b,
                      int M, int C, float eps);
    /* x[i] = gelu(x[i]) with the exact erf form, in place. */
    void (*gelu)(ws_backend *be, float *x, size_t n);
    /* out[M,H] = silu(in[:, 0:H]) * in[:, H:2H]  (in is [M, 2H]: gate half, then linear half). */
    void (*swiglu)(ws_backend *be, float *out, const float *in, int M, int H);
    /* x[M,C] += gamma * (y + bias); bias and gamma are [C] or NULL (absent). */
    void (*residual)(ws_backend *be, float *x, const float *y, const float *bias, const float *gamma,
                     int M, int C);
    /* Patch extraction (im2col): pixels [B,3,R,R] -> cols [B*g*g, 3*P*P], g = R/P, rows in
     * raster order of the patch grid, columns in (channel, y, x) order as in Conv2d weights. */
    void (*im2col)(ws_backend *be, float *cols, const float *pixels, int B, int R, int P);
    /* Token assembly: x[B,N,C] with N = 1 + nreg + g2: row 0 = cls + pos[0], rows 1..nreg =
     * reg (no position), rows 1+nreg.. = patches[b*g2 + p] + pos[1+p]. */
    void (*tokens)(ws_backend *be, float *x, const float *patches, const float *cls,
                   const float *reg, const float *pos, int B, int nreg, int g2, int C);
    /* Multi-head self-attention core for NH heads of size hs: qkv [B*N, 3*NH*hs] holds q rows,
     * then k, then v (head h at columns h*hs of each third); out [B*N, NH*hs] = softmax(q k^T /
     * sqrt(hs)) v per (image, head). Never holds more than one head's N x N scores per thread. */
    void (*attention)(ws_backend *be, float *out, const float *qkv, int B, int N, int NH, int hs,
                      int round_bf16);
    /* out[B,C] = mean over rows [first, N) of x[B,N,C]. */
    void (*token_mean)(ws_backend *be, float *out, const float *x, int B, int N, int first, int C);

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

/* The implementations (backend.c dispatches to them). */
int backend_cpu_create(int threads, ws_backend **out);
int backend_cpu_memory_info(size_t *free_bytes, size_t *total_bytes);
#ifdef WEBSSL_HAVE_CUDA
int backend_cuda_create(int device, ws_backend **out);
int backend_cuda_device_count(void);
int backend_cuda_memory_info(int device, size_t *free_bytes, size_t *total_bytes);
#endif

#endif
