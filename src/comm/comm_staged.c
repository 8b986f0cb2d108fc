/* The staged communicator (comm_staged.h): device buffers through host buffers of the backend,
 * each call ordered on the backend's queue. */
#include "comm/comm_staged.h"
#include "common/error.h"

#include <stdlib.h>
#include <time.h>

typedef struct {
    ws_comm *host;      /* owned */
    ws_backend *be;
    void *staging;      /* from be->ops->host_alloc (pinned on CUDA), grows to the largest call */
    size_t staging_bytes;
} staged_impl;

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void *staging(staged_impl *im, size_t bytes) {
    if (bytes > im->staging_bytes) {
        im->be->ops->upload_wait(im->be);   /* the last copy back may still read the old buffer */
        im->be->ops->host_free(im->be, im->staging);
        im->staging = im->be->ops->host_alloc(im->be, bytes);
        im->staging_bytes = im->staging ? bytes : 0;
    }
    return im->staging;
}

/* Device -> host buffer (waits for the ops queued before), host operation, host buffer ->
 * device (asynchronous: ops queued after this call see the result). */
static int staged_run(ws_comm *c, void *buf, size_t bytes, int (*op)(ws_comm *, void *, void *), void *arg) {
    staged_impl *im = c->impl;
    const double t0 = now_seconds();
    void *h = staging(im, bytes);
    if (!h) return ws_errorf(WS_ERR_NOMEM, "staged communicator: cannot allocate %zu bytes of host memory", bytes);
    im->be->ops->download(im->be, h, buf, bytes);
    int rc = op(im->host, h, arg);
    if (rc == WS_OK) im->be->ops->upload_async(im->be, buf, h, bytes);
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
    im->be->ops->upload_wait(im->be);   /* the last copy back reads the staging buffer */
    im->be->ops->host_free(im->be, im->staging);
    comm_free(im->host);
    free(im);
    free(c);
}

static const ws_comm_ops staged_ops = {
    .name = "mpi-staged",
    .allreduce_sum = staged_allreduce_sum,
    .broadcast = staged_broadcast,
    .free = staged_free,
    .capturable = 0,
};

ws_comm *comm_staged_create(ws_comm *host, ws_backend *be) {
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
    im->be = be;
    c->ops = &staged_ops;
    c->rank = host->rank;
    c->size = host->size;
    c->impl = im;
    return c;
}
