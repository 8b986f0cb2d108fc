/* In-process test communicator (see comm_threads.h): all-reduce = every rank publishes its
 * buffer, each rank sums a stripe of all buffers into shared scratch, then copies the sum back. */
#include "comm_threads.h"
#include "common/error.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int n, refs;
    pthread_barrier_t barrier;
    pthread_mutex_t lock;
    void **bufs;
    float *sum;
    size_t sum_cap;
} shared_group;

static int threads_allreduce(ws_comm *c, void *buf, size_t count, ws_dtype dt) {
    shared_group *g = c->impl;
    if (dt != WS_DTYPE_F32) return ws_errorf(WS_ERR_UNSUPPORTED, "test communicator sums f32 only");
    g->bufs[c->rank] = buf;
    if (c->rank == 0 && count > g->sum_cap) {
        free(g->sum);
        g->sum = malloc(count * sizeof(float));
        g->sum_cap = g->sum ? count : 0;
    }
    pthread_barrier_wait(&g->barrier);
    if (!g->sum) return ws_errorf(WS_ERR_NOMEM, "test communicator: out of memory");
    size_t lo = count * (size_t)c->rank / (size_t)g->n, hi = count * (size_t)(c->rank + 1) / (size_t)g->n;
    for (size_t i = lo; i < hi; i++) {
        float s = 0.0f;
        for (int r = 0; r < g->n; r++) s += ((float *)g->bufs[r])[i];
        g->sum[i] = s;
    }
    pthread_barrier_wait(&g->barrier);
    memcpy(buf, g->sum, count * sizeof(float));
    pthread_barrier_wait(&g->barrier);
    return WS_OK;
}

static int threads_broadcast(ws_comm *c, void *buf, size_t bytes, int root) {
    shared_group *g = c->impl;
    g->bufs[c->rank] = buf;
    pthread_barrier_wait(&g->barrier);
    if (c->rank != root) memcpy(buf, g->bufs[root], bytes);
    pthread_barrier_wait(&g->barrier);
    return WS_OK;
}

static void threads_free(ws_comm *c) {
    shared_group *g = c->impl;
    pthread_mutex_lock(&g->lock);
    int last = --g->refs == 0;
    pthread_mutex_unlock(&g->lock);
    if (last) {
        pthread_barrier_destroy(&g->barrier);
        pthread_mutex_destroy(&g->lock);
        free(g->bufs);
        free(g->sum);
        free(g);
    }
    free(c);
}

static const ws_comm_ops threads_ops = {
    .name = "threads",
    .allreduce_sum = threads_allreduce,
    .broadcast = threads_broadcast,
    .free = threads_free,
};

ws_comm **comm_threads_create(int n) {
    ws_comm **cs = calloc((size_t)n, sizeof *cs);
    shared_group *g = calloc(1, sizeof *g);
    if (!cs || !g || !(g->bufs = calloc((size_t)n, sizeof *g->bufs))) {
        free(cs);
        if (g) free(g->bufs);
        free(g);
        return NULL;
    }
    g->n = g->refs = n;
    pthread_barrier_init(&g->barrier, NULL, (unsigned)n);
    pthread_mutex_init(&g->lock, NULL);
    for (int r = 0; r < n; r++) {
        cs[r] = calloc(1, sizeof **cs);
        if (!cs[r]) return NULL;
        cs[r]->ops = &threads_ops;
        cs[r]->rank = r;
        cs[r]->size = n;
        cs[r]->impl = g;
    }
    return cs;
}
