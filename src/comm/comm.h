/* Communicator interface for tensor parallelism: a small table of operations over one group of
 * ranks (a TP group). Implementations: self (one rank, no communication: comm_self.c), MPI (host
 * buffers, and device buffers staged through pinned host memory), NCCL (device buffers). The model
 * code calls comm_allreduce_sum() after each row-parallel layer; nothing else in the forward pass
 * communicates. Buffers are host memory unless the implementation says otherwise. */
#ifndef WEBSSL_COMM_COMM_H
#define WEBSSL_COMM_COMM_H

#include <stddef.h>

#include "common/dtype.h"

typedef struct ws_comm ws_comm;

typedef struct {
    const char *name;
    /* In-place sum over the group of `count` elements of type `dt`. WS_OK or WS_ERR_COMM. */
    int (*allreduce_sum)(ws_comm *c, void *buf, size_t count, ws_dtype dt);
    /* Broadcast `bytes` bytes from group rank `root`. */
    int (*broadcast)(ws_comm *c, void *buf, size_t bytes, int root);
    void (*free)(ws_comm *c);
    /* 1 when allreduce_sum only enqueues work on the backend's queue, never waiting on the host
     * (self, NCCL), so that a captured forward pass (CUDA graph) can hold it; 0 for MPI and staged. */
    int capturable;
} ws_comm_ops;

struct ws_comm {
    const ws_comm_ops *ops;
    int rank;            /* rank inside the group */
    int size;            /* ranks in the group */
    double comm_seconds; /* wall time spent inside allreduce/broadcast (for --stats) */
    void *impl;
};

/* A group of one rank: every operation is a no-op. Never fails. */
ws_comm *comm_self_create(void);

static inline int comm_allreduce_sum(ws_comm *c, void *buf, size_t count, ws_dtype dt) {
    return c->size > 1 ? c->ops->allreduce_sum(c, buf, count, dt) : 0;
}
static inline int comm_broadcast(ws_comm *c, void *buf, size_t bytes, int root) {
    return c->size > 1 ? c->ops->broadcast(c, buf, bytes, root) : 0;
}
static inline void comm_free(ws_comm *c) {
    if (c) c->ops->free(c);
}

#endif
