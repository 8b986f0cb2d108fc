/* The NCCL communicator for a TP group (see comm_nccl.h): unique id from the TP leader broadcast
 * over MPI, one ncclComm per group, all-reduce and broadcast on the backend's stream. Failures
 * in the middle of a run are fatal with the failing call named (NCCL_CHECK), as CUDA_CHECK does
 * for the backend. */
#include "comm/comm_nccl.h"
#include "comm/topology.h"
#include "common/check.h"
#include "common/error.h"
#include "common/log.h"

#include <cuda_runtime_api.h>
#include <nccl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NCCL_CHECK(call) \
    do { ncclResult_t nc_rc_ = (call); \
         if (nc_rc_ != ncclSuccess) \
             ws_fatal(__FILE__, __LINE__, "%s failed: %s (%s)", #call, ncclGetErrorString(nc_rc_), \
                      ncclGetLastError(NULL)); \
    } while (0)

typedef struct {
    ncclComm_t comm;
    ws_backend *be;
    cudaStream_t stream;   /* the backend's queue */
} nccl_impl;

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static ncclDataType_t nccl_type(ws_dtype dt) {
    switch (dt) {
    case WS_DTYPE_F32: return ncclFloat32;
    case WS_DTYPE_F16: return ncclFloat16;
    case WS_DTYPE_BF16: return ncclBfloat16;
    default: break;
    }
    ws_fatal(__FILE__, __LINE__, "NCCL all-reduce: unknown dtype %d", (int)dt);
}

static int nccl_allreduce_sum(ws_comm *c, void *buf, size_t count, ws_dtype dt) {
    nccl_impl *im = c->impl;
    const double t0 = now_seconds();
    NCCL_CHECK(ncclAllReduce(buf, buf, count, nccl_type(dt), ncclSum, im->comm, im->stream));
    c->comm_seconds += now_seconds() - t0;
    return WS_OK;
}

static int nccl_broadcast(ws_comm *c, void *buf, size_t bytes, int root) {
    nccl_impl *im = c->impl;
    const double t0 = now_seconds();
    NCCL_CHECK(ncclBroadcast(buf, buf, bytes, ncclUint8, root, im->comm, im->stream));
    c->comm_seconds += now_seconds() - t0;
    return WS_OK;
}

static void nccl_free(ws_comm *c) {
    nccl_impl *im = c->impl;
    if (im) {
        im->be->ops->sync(im->be);
        NCCL_CHECK(ncclCommFinalize(im->comm));
        NCCL_CHECK(ncclCommDestroy(im->comm));
        free(im);
    }
    free(c);
}

static const ws_comm_ops nccl_ops = {
    .name = "nccl",
    .allreduce_sum = nccl_allreduce_sum,
    .broadcast = nccl_broadcast,
    .free = nccl_free,
    .capturable = 1,
};

int comm_nccl_create(MPI_Comm group, ws_backend *be, ws_comm **out) {
    *out = NULL;
    int rank = 0, size = 1, rc;
    MPI_CHECK(MPI_Comm_rank(group, &rank));
    MPI_CHECK(MPI_Comm_size(group, &size));

    ncclUniqueId id;
    memset(&id, 0, sizeof id);
    int made = WS_OK;
    if (rank == 0) {
        ncclResult_t nr = ncclGetUniqueId(&id);
        if (nr != ncclSuccess)
            made = ws_errorf(WS_ERR_COMM, "ncclGetUniqueId failed: %s (%s)", ncclGetErrorString(nr),
                             ncclGetLastError(NULL));
    }
    rc = topology_agree(group, made);
    if (rc != WS_OK) return rc;
    MPI_CHECK(MPI_Bcast(&id, (int)sizeof id, MPI_BYTE, 0, group));

    ws_comm *c = calloc(1, sizeof *c);
    nccl_impl *im = calloc(1, sizeof *im);
    rc = topology_agree(group, c && im ? WS_OK : ws_errorf(WS_ERR_NOMEM, "NCCL setup: out of memory"));
    if (rc != WS_OK) {
        free(c);
        free(im);
        return rc;
    }
    ncclResult_t nr = ncclCommInitRank(&im->comm, size, id, rank);
    int joined = nr == ncclSuccess ? WS_OK
                                   : ws_errorf(WS_ERR_COMM, "ncclCommInitRank(rank %d of %d) failed: %s (%s)", rank,
                                               size, ncclGetErrorString(nr), ncclGetLastError(NULL));
    rc = topology_agree(group, joined);
    if (rc != WS_OK) {
        if (nr == ncclSuccess) ncclCommAbort(im->comm);
        free(c);
        free(im);
        return rc;
    }
    im->be = be;
    im->stream = (cudaStream_t)be->ops->stream(be);
    c->ops = &nccl_ops;
    c->rank = rank;
    c->size = size;
    c->impl = im;
    int version = 0;
    ncclGetVersion(&version);
    LOG_DEBUG("nccl %d: TP rank %d of %d joined", version, rank, size);
    *out = c;
    return WS_OK;
}
