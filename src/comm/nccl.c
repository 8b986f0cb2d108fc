/* The NCCL communicator for a TP group (see comm_nccl.h): unique id from the TP leader broadcast
 * over MPI, one ncclComm per group, all-reduce and broadcast on the compute stream. */
#include "comm/comm_nccl.h"
#include "backend/cuda/cuda_check.h"
#include "comm/topology.h"
#include "common/log.h"

#include <nccl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

typedef struct {
    ncclComm_t comm;
    cudaStream_t stream;
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
        CUDA_CHECK(cudaStreamSynchronize(im->stream));
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
};

/* Identity of this rank's GPU: host name + device UUID. */
typedef struct {
    char host[WS_HOST_MAX];
    unsigned char uuid[16];
    int device;
} gpu_ident;

static int gpu_ident_get(gpu_ident *id) {
    memset(id, 0, sizeof *id);
    if (gethostname(id->host, sizeof id->host - 1) != 0) strcpy(id->host, "?");
    CUDA_TRY(cudaGetDevice(&id->device));
    struct cudaDeviceProp prop;
    CUDA_TRY(cudaGetDeviceProperties(&prop, id->device));
    memcpy(id->uuid, prop.uuid.bytes, sizeof id->uuid);
    return WS_OK;
}

/* Every rank gathers every rank's GPU; the same verdict on every rank. */
static int check_distinct_gpus(MPI_Comm group, int rank, int size) {
    gpu_ident me;
    int rc = topology_agree(group, gpu_ident_get(&me));
    if (rc != WS_OK) return rc;
    gpu_ident *all = malloc((size_t)size * sizeof *all);
    rc = topology_agree(group, all ? WS_OK : ws_errorf(WS_ERR_NOMEM, "NCCL setup: out of memory"));
    if (rc != WS_OK) {
        free(all);
        return rc;
    }
    MPI_CHECK(MPI_Allgather(&me, (int)sizeof me, MPI_BYTE, all, (int)sizeof me, MPI_BYTE, group));
    rc = WS_OK;
    for (int i = 0; i < size && rc == WS_OK; i++)
        for (int j = i + 1; j < size && rc == WS_OK; j++)
            if (!strcmp(all[i].host, all[j].host) && !memcmp(all[i].uuid, all[j].uuid, sizeof all[i].uuid))
                rc = ws_errorf(WS_ERR_DEVICE,
                               "NCCL needs one GPU per rank, but TP ranks %d and %d share GPU %d on %s: start "
                               "as many ranks per node as GPUs, or use the MPI communicator",
                               i, j, all[i].device, all[i].host);
    free(all);
    (void)rank;
    return rc;
}

int comm_nccl_create(MPI_Comm group, cudaStream_t stream, ws_comm **out) {
    *out = NULL;
    int rank = 0, size = 1;
    MPI_CHECK(MPI_Comm_rank(group, &rank));
    MPI_CHECK(MPI_Comm_size(group, &size));
    int rc = check_distinct_gpus(group, rank, size);
    if (rc != WS_OK) return rc;

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
    im->stream = stream;
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
