/* The CUDA backend: device state (compute stream, copy stream, cuBLASLt), memory helpers and
 * the op table. Every op is enqueued on one compute stream in call order, so the forward pass
 * needs no synchronisation until it downloads its features; kernels live one per .cu file
 * (cuda_kernels.h), GEMMs in gemm_cublaslt.c. Activations between ops are bf16 for bf16 weights.
 * An op that fails returns WS_ERR_DEVICE naming the op, its shape and the device (a kernel's
 * asynchronous failure surfaces at a later op or sync); with WEBSSL_CUDA_SYNC=1 every op is
 * waited for, so that a failure names its own op. */
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_gemm.h"
#include "backend/cuda/cuda_kernels.h"
#include "backend/cuda/cuda_pipeline.h"
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    cudaStream_t stream;      /* every op, in order */
    cudaStream_t copy;        /* asynchronous batch uploads (cuda_upload_async) */
    cudaEvent_t copied;       /* recorded on `copy` after each upload */
    cuda_gemm *gemm;
    void *conv_in;            /* a GEMM input converted to the weights' dtype; grows to the largest */
    size_t conv_bytes;
    int sync_each_op;         /* debug mode: WEBSSL_CUDA_SYNC=1 */
    cuda_pipeline pipe;       /* input slots' events and the graph switch (cuda_pipeline.c) */
} cuda_state;

static cuda_state *state(ws_backend *be) { return be->impl; }

/* The status of op `op` (shape `fmt`, ...) that enqueued its work with status rc: WS_OK, or
 * WS_ERR_DEVICE naming the op, its shape and the device. In the debug mode (WEBSSL_CUDA_SYNC=1)
 * the op is also waited for, so that an asynchronous failure names the op that caused it. */
static int op_status(ws_backend *be, cudaError_t rc, const char *op, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int op_status(ws_backend *be, cudaError_t rc, const char *op, const char *fmt, ...) {
    if (rc == cudaSuccess && state(be)->sync_each_op) rc = cudaStreamSynchronize(state(be)->stream);
    if (rc == cudaSuccess) return WS_OK;
    char shape[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(shape, sizeof shape, fmt, ap);
    va_end(ap);
    return ws_errorf(WS_ERR_DEVICE, "cuda %s (%s) on device %d failed: %s (%s)", op, shape, be->device,
                     cudaGetErrorString(rc), cudaGetErrorName(rc));
}

static void *cuda_alloc(ws_backend *be, size_t bytes) {
    void *p = NULL;
    if (cudaMalloc(&p, bytes ? bytes : 64) != cudaSuccess) {
        (void)cudaGetLastError();   /* an out-of-memory error is not sticky: clear it */
        return NULL;
    }
    return p;
}

static void cuda_free(ws_backend *be, void *p) {
    if (p) CUDA_CHECK(cudaFree(p));
}

static void cuda_upload(ws_backend *be, void *dst, const void *src_host, size_t bytes) {
    if (!bytes) return;
    CUDA_CHECK(cudaMemcpyAsync(dst, src_host, bytes, cudaMemcpyHostToDevice, state(be)->stream));
    CUDA_CHECK(cudaStreamSynchronize(state(be)->stream));   /* src_host is the caller's again */
}

static void cuda_download(ws_backend *be, void *dst_host, const void *src, size_t bytes) {
    if (!bytes) return;
    CUDA_CHECK(cudaMemcpyAsync(dst_host, src, bytes, cudaMemcpyDeviceToHost, state(be)->stream));
    CUDA_CHECK(cudaStreamSynchronize(state(be)->stream));
}

static void cuda_sync(ws_backend *be) { CUDA_CHECK(cudaStreamSynchronize(state(be)->stream)); }

static void cuda_destroy(ws_backend *be) {
    cuda_state *st = state(be);
    if (st) {
        if (st->stream) CUDA_CHECK(cudaStreamSynchronize(st->stream));
        if (st->copy) CUDA_CHECK(cudaStreamSynchronize(st->copy));
        cuda_pipeline_free(&st->pipe);
        cuda_gemm_free(st->gemm);
        if (st->conv_in) CUDA_CHECK(cudaFree(st->conv_in));
        if (st->copied) CUDA_CHECK(cudaEventDestroy(st->copied));
        if (st->copy) CUDA_CHECK(cudaStreamDestroy(st->copy));
        if (st->stream) CUDA_CHECK(cudaStreamDestroy(st->stream));
        free(st);
    }
    free(be);
}

/* The GEMM-input conversion scratch of at least `bytes` into *out; grows once per larger shape
 * (first batch). WS_OK, or an error naming the matmul's shape when it cannot be had. */
static int conv_scratch(ws_backend *be, size_t bytes, int M, int N, int K, void **out) {
    cuda_state *st = state(be);
    if (bytes > st->conv_bytes) {
        /* queued GEMMs may read the old buffer */
        int rc = op_status(be, cudaStreamSynchronize(st->stream), "matmul", "M=%d N=%d K=%d", M, N, K);
        if (rc) return rc;
        if (st->conv_in) CUDA_CHECK(cudaFree(st->conv_in));
        st->conv_in = NULL;
        st->conv_bytes = 0;
        const cudaError_t crc = cudaMalloc(&st->conv_in, bytes);
        if (crc != cudaSuccess) {
            (void)cudaGetLastError();   /* an out-of-memory error is not sticky: clear it */
            st->conv_in = NULL;
            return ws_errorf(WS_ERR_NOMEM, "cuda matmul (M=%d N=%d K=%d) on device %d: cannot allocate %zu "
                             "bytes to convert its input: %s", M, N, K, be->device, bytes,
                             cudaGetErrorString(crc));
        }
        st->conv_bytes = bytes;
    }
    *out = st->conv_in;
    return WS_OK;
}

/* The product runs in the weights' dtype: an input of the other dtype is converted first. */
static int cuda_op_matmul(ws_backend *be, void *out, ws_dtype odt, const void *in, ws_dtype idt, const void *w,
                          ws_dtype wdt, const float *bias, ws_epilogue epi, int M, int N, int K) {
    cuda_state *st = state(be);
    const void *a = in;
    if (idt != wdt) {
        const size_t n = (size_t)M * K;
        void *x = NULL;
        int rc = conv_scratch(be, n * ws_dtype_size(wdt), M, N, K, &x);
        if (rc) return rc;
        if ((rc = op_status(be, cuda_convert(x, wdt, in, idt, n, st->stream), "matmul input conversion",
                            "M=%d K=%d, %s to %s", M, K, ws_dtype_name(idt), ws_dtype_name(wdt))))
            return rc;
        a = x;
    }
    int rc = cuda_gemm_run(st->gemm, out, odt, a, w, wdt, bias, epi, M, N, K, st->stream);
    if (rc) return rc;
    return op_status(be, cudaSuccess, "matmul", "M=%d N=%d K=%d", M, N, K);
}

static int cuda_op_layernorm(ws_backend *be, void *out, ws_dtype odt, const float *in, const float *w,
                             const float *b, int M, int C, float eps) {
    return op_status(be, cuda_layernorm(out, odt, in, w, b, M, C, eps, state(be)->stream), "layernorm",
                     "M=%d C=%d, out %s", M, C, ws_dtype_name(odt));
}

static int cuda_op_residual_layernorm(ws_backend *be, float *x, const void *y, ws_dtype ydt, const float *bias,
                                      const float *gamma, void *xn, ws_dtype odt, const float *ln_w,
                                      const float *ln_b, int M, int C, float eps) {
    return op_status(be,
                     cuda_residual_layernorm(x, y, ydt, bias, gamma, xn, odt, ln_w, ln_b, M, C, eps,
                                             state(be)->stream),
                     "residual_layernorm", "M=%d C=%d, y %s, out %s", M, C, ws_dtype_name(ydt),
                     ws_dtype_name(odt));
}

static int cuda_op_swiglu(ws_backend *be, void *out, const void *in, ws_dtype dt, int M, int H) {
    return op_status(be, cuda_swiglu(out, in, dt, M, H, state(be)->stream), "swiglu", "M=%d H=%d, %s", M, H,
                     ws_dtype_name(dt));
}

static int cuda_op_im2col(ws_backend *be, void *cols, ws_dtype dt, const float *pixels, int B, int R, int P) {
    return op_status(be, cuda_im2col(cols, dt, pixels, B, R, P, state(be)->stream), "im2col",
                     "B=%d R=%d P=%d, %s", B, R, P, ws_dtype_name(dt));
}

static int cuda_op_tokens(ws_backend *be, float *x, const float *patches, const float *cls, const float *reg,
                          const float *pos, int B, int nreg, int g2, int C) {
    return op_status(be, cuda_tokens(x, patches, cls, reg, pos, B, nreg, g2, C, state(be)->stream), "tokens",
                     "B=%d nreg=%d g2=%d C=%d", B, nreg, g2, C);
}

static int cuda_op_attention(ws_backend *be, void *out, const void *qkv, ws_dtype dt, int B, int N, int NH,
                             int hs, int round_bf16) {
    return op_status(be, cuda_attention(out, qkv, dt, B, N, NH, hs, round_bf16, state(be)->stream),
                     "attention", "B=%d N=%d NH=%d hs=%d, %s", B, N, NH, hs, ws_dtype_name(dt));
}

static int cuda_op_token_mean(ws_backend *be, float *out, const float *x, int B, int N, int first, int C) {
    return op_status(be, cuda_token_mean(out, x, B, N, first, C, state(be)->stream), "token_mean",
                     "B=%d N=%d first=%d C=%d", B, N, first, C);
}

static int cuda_op_row_argmax(ws_backend *be, int32_t *idx, float *val, const float *scores, int M, int N) {
    return op_status(be, cuda_row_argmax(idx, val, scores, M, N, state(be)->stream), "row_argmax", "M=%d N=%d", M,
                     N);
}

static void *cuda_host_alloc(ws_backend *be, size_t bytes) {
    void *p = NULL;
    if (cudaHostAlloc(&p, bytes ? bytes : 64, cudaHostAllocPortable) != cudaSuccess) {
        (void)cudaGetLastError();
        return NULL;
    }
    return p;
}

static void cuda_host_free(ws_backend *be, void *p) {
    if (p) CUDA_CHECK(cudaFreeHost(p));
}

/* The copy runs on the copy stream and the compute stream waits for it, so the upload of batch
 * k+1 overlaps the forward pass of batch k. */
static void cuda_upload_async(ws_backend *be, void *dst, const void *src, size_t bytes) {
    cuda_state *st = state(be);
    if (!bytes) return;
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, st->copy));
    CUDA_CHECK(cudaEventRecord(st->copied, st->copy));
    CUDA_CHECK(cudaStreamWaitEvent(st->stream, st->copied, 0));
}

static void cuda_upload_wait(ws_backend *be) { CUDA_CHECK(cudaStreamSynchronize(state(be)->copy)); }

static void cuda_device_uuid(ws_backend *be, unsigned char uuid[16]) {
    struct cudaDeviceProp prop;
    CUDA_CHECK(cudaGetDeviceProperties(&prop, be->device));
    memcpy(uuid, prop.uuid.bytes, 16);
}

static void *cuda_stream(ws_backend *be) { return state(be)->stream; }

static size_t cuda_scratch_bytes(ws_backend *be, int N) {
    (void)be;
    (void)N;
    return 0;
}

static int cuda_gemm_select(ws_backend *be, ws_dtype wdt, ws_gemm_use use, char *desc, size_t n) {
    snprintf(desc, n, "gemm cublasLt %s", ws_dtype_name(wdt));
    return WS_OK;
}

/* bf16 activations between ops for bf16 weights: the GEMMs read and write them directly. */
/* No SwiGLU epilogue: cuBLASLt has none, and the swiglu kernel runs as an op of its own. */
static int cuda_fuses_swiglu(ws_backend *be, ws_dtype wdt) { return 0; }

static ws_dtype cuda_activation_dtype(ws_backend *be, ws_dtype wdt) {
    (void)be;
    return wdt == WS_DTYPE_BF16 ? WS_DTYPE_BF16 : WS_DTYPE_F32;
}

static const ws_backend_ops cuda_ops = {
    .name = "cuda",
    .alloc = cuda_alloc,
    .free = cuda_free,
    .upload = cuda_upload,
    .download = cuda_download,
    .sync = cuda_sync,
    .destroy = cuda_destroy,
    .host_alloc = cuda_host_alloc,
    .host_free = cuda_host_free,
    .upload_async = cuda_upload_async,
    .upload_wait = cuda_upload_wait,
    .device_uuid = cuda_device_uuid,
    .stream = cuda_stream,
    .scratch_bytes = cuda_scratch_bytes,
    .gemm_select = cuda_gemm_select,
    .activation_dtype = cuda_activation_dtype,
    .fuses_swiglu = cuda_fuses_swiglu,
    .matmul = cuda_op_matmul,
    .layernorm = cuda_op_layernorm,
    .residual_layernorm = cuda_op_residual_layernorm,
    .swiglu = cuda_op_swiglu,
    .im2col = cuda_op_im2col,
    .tokens = cuda_op_tokens,
    .attention = cuda_op_attention,
    .token_mean = cuda_op_token_mean,
    .row_argmax = cuda_op_row_argmax,
    .normalises_u8 = 1,
    .normalize = cuda_pipeline_normalize,
    .slot_upload = cuda_pipeline_slot_upload,
    .slot_release = cuda_pipeline_slot_release,
    .slot_wait = cuda_pipeline_slot_wait,
    .copy_rows = cuda_pipeline_copy_rows,
    .download_async = cuda_pipeline_download_async,
    .graph_capturable = cuda_pipeline_graph_capturable,
    .graph_begin = cuda_pipeline_graph_begin,
    .graph_end = cuda_pipeline_graph_end,
    .graph_launch = cuda_pipeline_graph_launch,
    .graph_free = cuda_pipeline_graph_free,
};

int backend_cuda_device_count(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        (void)cudaGetLastError();
        return 0;
    }
    return n;
}

int backend_cuda_memory_info(int device, size_t *free_bytes, size_t *total_bytes) {
    CUDA_TRY(cudaSetDevice(device));
    CUDA_TRY(cudaMemGetInfo(free_bytes, total_bytes));
    return WS_OK;
}

/* Device setup; on failure returns the error with everything made so far left in `st`. */
static int cuda_state_init(cuda_state *st, int device) {
    int n = 0;
    cudaError_t rc = cudaGetDeviceCount(&n);
    if (rc != cudaSuccess || n == 0)
        return ws_errorf(WS_ERR_DEVICE, "--device cuda: no CUDA device visible (cudaGetDeviceCount: %s)",
                         rc != cudaSuccess ? cudaGetErrorString(rc) : "0 devices");
    if (device < 0 || device >= n)
        return ws_errorf(WS_ERR_DEVICE, "--device cuda: device %d does not exist (%d visible)", device, n);
    CUDA_TRY(cudaSetDevice(device));
    CUDA_TRY(cudaStreamCreateWithFlags(&st->stream, cudaStreamNonBlocking));
    CUDA_TRY(cudaStreamCreateWithFlags(&st->copy, cudaStreamNonBlocking));
    CUDA_TRY(cudaEventCreateWithFlags(&st->copied, cudaEventDisableTiming));
    int rc2 = cuda_gemm_create(&st->gemm);
    if (rc2 != WS_OK) return rc2;
    struct cudaDeviceProp prop;
    CUDA_TRY(cudaGetDeviceProperties(&prop, device));
    LOG_INFO("cuda: device %d: %s, %.1f GiB, sm_%d%d", device, prop.name,
             (double)prop.totalGlobalMem / (1 << 30), prop.major, prop.minor);
    const char *sync = getenv("WEBSSL_CUDA_SYNC");
    st->sync_each_op = sync && *sync && strcmp(sync, "0") != 0;
    if (st->sync_each_op) LOG_INFO("cuda: WEBSSL_CUDA_SYNC set: every op is waited for and checked (slow)");
    return cuda_pipeline_init(&st->pipe, st->copy, st->sync_each_op);
}

int backend_cuda_create(int device, ws_backend **out) {
    *out = NULL;
    ws_backend *be = calloc(1, sizeof *be);
    cuda_state *st = calloc(1, sizeof *st);
    if (!be || !st) {
        free(be);
        free(st);
        return ws_errorf(WS_ERR_NOMEM, "cuda backend: out of host memory");
    }
    be->ops = &cuda_ops;
    be->threads = 1;
    be->device = device;
    be->impl = st;
    int rc = cuda_state_init(st, device);
    if (rc != WS_OK) {
        cuda_destroy(be);
        return rc;
    }
    *out = be;
    return WS_OK;
}

cudaStream_t cuda_backend_stream(ws_backend *be) { return state(be)->stream; }

cuda_pipeline *cuda_backend_pipeline(ws_backend *be) { return &state(be)->pipe; }

int cuda_backend_op_status(ws_backend *be, cudaError_t rc, const char *op) { return op_status(be, rc, op, "-"); }
