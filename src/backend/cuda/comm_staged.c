/* A communicator over DEVICE buffers built on a host-buffer communicator (the MPI one): each call
 * copies the buffer to pinned host memory, runs the host communicator's operation, and copies the
 * result back, all ordered on the backend's compute stream. Slower than NCCL, but it runs tp > 1
 * with several ranks sharing one GPU, which NCCL refuses, so the sharded GPU math is testable on
 * a one-GPU machine (docs/cuda.md). */
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_check.h"

#include <stdlib.h>
#include <time.h>

typedef struct {
    ws_comm *host;      /* owned */
    cudaStream_t stream;
    void *pinned;       /* staging buffer, grows to the largest call */
    size_t pinned_bytes;
} staged_impl;

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void *staging(staged_impl *im, size_t bytes) {
    if (bytes > im->pinned_bytes) {
        cuda_host_free(im->pinned);
        im->pinned = cuda_host_alloc(bytes);
        im->pinned_bytes = im->pinned ? bytes : 0;
    }
    return im->pinned;
}

/* Device -> pinned, host operation, pinned -> device. */
static int staged_run(ws_comm *c, void *buf, size_t bytes, int (*op)(ws_comm *, void *, void *), void *arg) {
    staged_impl *im = c->impl;
    const double t0 = now_seconds();
    void *h = staging(im, bytes);
    if (!h) return ws_errorf(WS_ERR_NOMEM, "staged communicator: cannot pin %zu bytes of host memory", bytes);
    CUDA_CHECK(cudaMemcpyAsync(h, buf, bytes, cudaMemcpyDeviceToHost, im->stream));
    CUDA_CHECK(cudaStreamSynchronize(im->stream));
    int rc = op(im->host, h, arg);
    if (rc == WS_OK) CUDA_CHECK(cudaMemcpyAsync(buf, h, bytes, cudaMemcpyHostToDevice, im->stream));
    c->comm_seconds += now_seconds() - t0;
    return rc;
}

typedef struct {
    size_t count;
    ws_dtype dt;
    int root;
    size_t bytes;
} staged_args;

static int host_allreduce(ws_comm *host, void *h, void *arg) {
    const staged_args *a = arg;
    return host->ops->allreduce_sum(host, h, a->count, a->dt);
}

static int host_broadcast(ws_comm *host, void *h, void *arg) {
    const staged_args *a = arg;
    return host->ops->broadcast(host, h, a->bytes, a->root);
}

static int staged_allreduce_sum(ws_comm *c, void *buf, size_t count, ws_dtype dt) {
    staged_args a = {.count = count, .dt = dt};
    return staged_run(c, buf, count * ws_dtype_size(dt), host_allreduce, &a);
}

static int staged_broadcast(ws_comm *c, void *buf, size_t bytes, int root) {
    staged_args a = {.root = root, .bytes = bytes};
    return staged_run(c, buf, bytes, host_broadcast, &a);
}

static void staged_free(ws_comm *c) {
    staged_impl *im = c->impl;
    CUDA_CHECK(cudaStreamSynchronize(im->stream));   /* the last copy back reads `pinned` */
    cuda_host_free(im->pinned);
    comm_free(im->host);
    free(im);
    free(c);
}

static const ws_comm_ops staged_ops = {
    .name = "mpi-staged",
    .allreduce_sum = staged_allreduce_sum,
    .broadcast = staged_broadcast,
    .free = staged_free,
};

ws_comm *cuda_comm_staged_create(ws_comm *host, ws_backend *be) {
    if (!host) return NULL;
    ws_comm *c = calloc(1, sizeof *c);
    staged_impl *im = calloc(1, sizeof *im);
    if (!c || !im) {
        free(c);
        free(im);
        comm_free(host);
        return NULL;
    }
    im->host = host;
    im->stream = cuda_backend_stream(be);
    c->ops = &staged_ops;
    c->rank = host->rank;
    c->size = host->size;
    c->impl = im;
    return c;
}
