/* The TP communicator factory (see comm_tp.h). */
#include "comm/comm_tp.h"
#include "comm/comm_mpi.h"
#include "comm/comm_staged.h"
#include "common/check.h"
#include "common/error.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef WEBSSL_HAVE_NCCL
#include "comm/comm_nccl.h"
enum { HAVE_NCCL = 1 };
#else
enum { HAVE_NCCL = 0 };
#endif

static int same_device(const comm_device_id *a, const comm_device_id *b) {
    return !strncmp(a->host, b->host, sizeof a->host) && !memcmp(a->uuid, b->uuid, sizeof a->uuid);
}

comm_kind comm_pick_kind(int device_buffers, const comm_device_id *ids, int n, int have_nccl, const char **why) {
    const char *unused;
    if (!why) why = &unused;
    if (!device_buffers || n <= 1) {
        *why = device_buffers ? "one rank" : "host buffers";
        return COMM_KIND_MPI;
    }
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (same_device(&ids[i], &ids[j])) {
                *why = "ranks of a TP group share a GPU";
                return COMM_KIND_STAGED;
            }
    *why = have_nccl ? "one GPU per rank" : "this build has no NCCL";
    return have_nccl ? COMM_KIND_NCCL : COMM_KIND_STAGED;
}

/* This rank's device: host name and UUID. */
static void device_id(ws_backend *be, comm_device_id *id) {
    memset(id, 0, sizeof *id);
    if (gethostname(id->host, sizeof id->host - 1) != 0) strcpy(id->host, "?");
    be->ops->device_uuid(be, id->uuid);
}

int comm_create_tp(MPI_Comm group, ws_backend *be, ws_comm **out, comm_kind *kind, const char **why) {
    *out = NULL;
    int n = 1;
    MPI_CHECK(MPI_Comm_size(group, &n));
    const int device_buffers = !be->host_memory;
    comm_device_id me, *ids = NULL;
    if (device_buffers && n > 1) {   /* every rank's device, gathered over the group */
        ids = calloc((size_t)n, sizeof *ids);
        int rc = topology_agree(group, ids ? WS_OK : ws_errorf(WS_ERR_NOMEM, "TP communicator: out of memory"));
        if (rc != WS_OK) {
            free(ids);
            return rc;
        }
        device_id(be, &me);
        MPI_CHECK(MPI_Allgather(&me, (int)sizeof me, MPI_BYTE, ids, (int)sizeof me, MPI_BYTE, group));
    }
    const comm_kind k = comm_pick_kind(device_buffers, ids, n, HAVE_NCCL, why);
    free(ids);
    if (kind) *kind = k;
#ifdef WEBSSL_HAVE_NCCL
    if (k == COMM_KIND_NCCL) return comm_nccl_create(group, be, out);
#endif
    ws_comm *c = comm_mpi_create(group);
    if (c && k == COMM_KIND_STAGED) c = comm_staged_create(c, be);
    *out = c;
    return topology_agree(group, c ? WS_OK : ws_errorf(WS_ERR_NOMEM, "TP communicator: out of memory"));
}
