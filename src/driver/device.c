/* Device choice, memory check and communicator of a run (see device.h). */
#include "driver/device.h"
#include "comm/comm_tp.h"
#include "common/error.h"
#include "common/log.h"
#include "model/cost_model.h"

#include <stdio.h>
#include <string.h>

static const double GIB = 1024.0 * 1024.0 * 1024.0;

int device_pick(const char *kind, int local_rank, int local_size, run_device *d) {
    memset(d, 0, sizeof *d);
    d->kind = kind;
    snprintf(d->name, sizeof d->name, "%s", kind);
    int n = backend_device_count(kind);
    if (n < 0) return ws_error_context(n, "--device %s", kind);
    if (n == 0) return ws_errorf(WS_ERR_DEVICE, "--device %s: no device visible to this process", kind);
    d->count = n;
    d->sharing = (local_size + n - 1) / n;
    if (strcmp(kind, "cpu") != 0) {
        d->index = local_rank % n;
        snprintf(d->name, sizeof d->name, "%s:%d", kind, d->index);
    }
    return WS_OK;
}

/* Weights + activations of a TP rank (model/cost_model.h) against the device's free memory, and
 * the smallest tp that would fit when they do not. */
static int memory_check(const run_device *d, const ws_arch *a, int R, int B, int tp, ws_dtype dt) {
    ws_cost c;
    int rc = cost_compute(a, R, B, tp, dt, &c);
    if (rc != WS_OK) return rc;
    size_t free_b = 0, total_b = 0;
    if ((rc = backend_memory_info(d->kind, d->index, &free_b, &total_b)) != WS_OK) return rc;
    const double need = cost_rank_bytes(&c);
    if (need <= (double)free_b) return WS_OK;
    for (int t = tp + 1; t <= a->num_heads; t++) {
        if (cost_compute(a, R, B, t, dt, &c) != WS_OK) continue;
        const double need_t = cost_rank_bytes(&c);
        if (need_t <= (double)free_b)
            return ws_errorf(WS_ERR_DEVICE,
                             "%s needs %.1f GiB per GPU at --tp %d (batch %d, %s) but %s has %.1f GiB free "
                             "of %.1f GiB; --tp %d fits (%.1f GiB per GPU)",
                             a->name, need / GIB, tp, B, ws_dtype_name(dt), d->name, free_b / GIB,
                             total_b / GIB, t, need_t / GIB);
    }
    return ws_errorf(WS_ERR_DEVICE,
                     "%s needs %.1f GiB per GPU at --tp %d (batch %d, %s) but %s has %.1f GiB free of "
                     "%.1f GiB, and no tp up to %d heads fits: lower --batch%s",
                     a->name, need / GIB, tp, B, ws_dtype_name(dt), d->name, free_b / GIB, total_b / GIB,
                     a->num_heads, dt == WS_DTYPE_F32 ? " or use --dtype bf16" : "");
}

/* Host memory (CPU backend): weights and activations per rank plus the ops' scratch (the attention
 * scores per thread) against the node's physical memory shared by its ranks, so that a resolution
 * or batch too large is an error naming both, not an allocation failure inside the forward pass.
 * Physical, not available memory: available memory moves with the page cache and other jobs, and
 * a check against it would refuse runs that fit. */
static int host_memory_check(const run_device *d, const ws_topology *t, const ws_arch *a, int R, int B, ws_dtype dt) {
    ws_cost c;
    int rc = cost_compute(a, R, B, t->tp, dt, &c);
    if (rc != WS_OK) return rc;
    size_t free_b = 0, total_b = 0;
    if ((rc = backend_memory_info(d->kind, d->index, &free_b, &total_b)) != WS_OK) return rc;
    const double scratch = (double)d->be->ops->scratch_bytes(d->be, c.N), rest = cost_rank_bytes(&c);
    const double need = scratch + rest, have = (double)total_b / t->local_size;
    if (need <= have) return WS_OK;
    return ws_errorf(WS_ERR_LIMIT,
                     "--resolution %d, --batch %d: %s needs about %.1f GiB per rank (%d tokens per image: "
                     "op scratch %.2f GiB with %d threads, weights and activations %.2f GiB) but the node "
                     "has %.1f GiB of memory per rank; lower --resolution or --batch",
                     R, B, a->name, need / GIB, c.N, scratch / GIB, d->be->threads, rest / GIB, have / GIB);
}

int device_setup(run_device *d, const ws_topology *t, int threads, const ws_arch *a, int R, int B, ws_dtype dt) {
    if (strcmp(d->kind, "cpu") != 0 && d->sharing > 1 && t->local_rank == 0)
        LOG_WARN("%d ranks on this node share %d GPU(s): NCCL needs one GPU per rank", t->local_size, d->count);
    int rc = backend_create(d->kind, threads, d->index, &d->be);
    if (rc == WS_OK) rc = d->be->host_memory ? host_memory_check(d, t, a, R, B, dt) : memory_check(d, a, R, B, t->tp, dt);
    if (rc != WS_OK) rc = ws_error_context(rc, "--device %s", d->name);
    /* every rank of the group joins the communicator's creation, or none does */
    if ((rc = topology_agree(t->tp_comm, rc)) != WS_OK) return rc;
    comm_kind kind;
    const char *why = "";
    rc = comm_create_tp(t->tp_comm, d->be, &d->comm, &kind, &why);
    if (rc == WS_OK && !d->be->host_memory && t->tp > 1 && t->world_rank == 0)
        LOG_INFO("tp %d on %s: %s communicator (%s)", t->tp, d->kind, d->comm->ops->name, why);
    return rc;
}

void device_free(run_device *d) {
    comm_free(d->comm);   /* NCCL and staged: drain the backend's queue first */
    d->comm = NULL;
    backend_free(d->be);
    d->be = NULL;
}
