/* Process topology: MPI start/stop, dp x tp split, setup agreement (see topology.h). */
#include "comm/topology.h"
#include "common/check.h"
#include "common/error.h"
#include "common/log.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define AGREE_MSG_MAX 1024

/* ws_fatal's stop hook: a failure on one rank stops every rank instead of leaving them waiting. */
static void abort_all_ranks(void) {
    int up = 0, down = 0;
    MPI_Initialized(&up);
    MPI_Finalized(&down);
    if (up && !down) MPI_Abort(MPI_COMM_WORLD, 1);
}

int topology_mpi_init(int *argc, char ***argv) {
    int up = 0, provided = 0;
    ws_fatal_set_stop(abort_all_ranks);
    MPI_Initialized(&up);
    if (!up) {
        if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
            return ws_errorf(WS_ERR_COMM, "MPI_Init_thread failed");
        if (provided < MPI_THREAD_FUNNELED)
            return ws_errorf(WS_ERR_COMM, "MPI provides thread level %d, need MPI_THREAD_FUNNELED", provided);
        /* Errors are returned, not fatal: each call site reports or stops all ranks itself. */
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    }
    int rank = 0, world = 1;   /* from here on, log lines (fatal ones too) name the rank and host */
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world);
    ws_log_set_rank(rank, world);
    return WS_OK;
}

void topology_mpi_finalize(void) {
    int up = 0, down = 0;
    MPI_Initialized(&up);
    MPI_Finalized(&down);
    if (up && !down) MPI_Finalize();
}

static void comm_free_if(MPI_Comm *c) {
    if (*c != MPI_COMM_NULL) MPI_Comm_free(c);
    *c = MPI_COMM_NULL;
}

void topology_free(ws_topology *t) {
    comm_free_if(&t->leaders);
    comm_free_if(&t->tp_comm);
    comm_free_if(&t->node);
    comm_free_if(&t->world);
}

int topology_create(int tp, ws_topology *t) {
    memset(t, 0, sizeof *t);
    t->world = t->node = t->tp_comm = t->leaders = MPI_COMM_NULL;
    MPI_Comm_rank(MPI_COMM_WORLD, &t->world_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &t->world_size);
    if (gethostname(t->host, sizeof t->host) != 0) snprintf(t->host, sizeof t->host, "unknown");
    t->host[sizeof t->host - 1] = '\0';
    if (tp < 1)
        return ws_errorf(WS_ERR_ARG, "--tp %d: must be at least 1", tp);
    if (t->world_size % tp != 0)
        return ws_errorf(WS_ERR_ARG, "--tp %d does not divide the world size %d (world = dp x tp)",
                         tp, t->world_size);
    t->tp = tp;
    t->dp = t->world_size / tp;
    t->tp_rank = t->world_rank % tp;
    t->group = t->world_rank / tp;
    t->is_leader = t->tp_rank == 0;

    if (MPI_Comm_dup(MPI_COMM_WORLD, &t->world) != MPI_SUCCESS ||
        MPI_Comm_split_type(t->world, MPI_COMM_TYPE_SHARED, t->world_rank, MPI_INFO_NULL, &t->node) != MPI_SUCCESS ||
        MPI_Comm_split(t->world, t->group, t->tp_rank, &t->tp_comm) != MPI_SUCCESS ||
        MPI_Comm_split(t->world, t->is_leader ? 0 : MPI_UNDEFINED, t->group, &t->leaders) != MPI_SUCCESS) {
        topology_free(t);
        return ws_errorf(WS_ERR_COMM, "splitting MPI_COMM_WORLD into %d x %d failed", t->dp, tp);
    }
    MPI_Comm_set_errhandler(t->world, MPI_ERRORS_RETURN);
    MPI_Comm_set_errhandler(t->tp_comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(t->node, &t->local_rank);
    MPI_Comm_size(t->node, &t->local_size);

    /* A TP group is on one node when all its ranks share the leader's node: compare the world
     * rank of each node's first rank, broadcast inside the TP group. */
    int node_first = t->world_rank, leader_node_first;
    MPI_Bcast(&node_first, 1, MPI_INT, 0, t->node);
    leader_node_first = node_first;
    MPI_Bcast(&leader_node_first, 1, MPI_INT, 0, t->tp_comm);
    int same = leader_node_first == node_first, all_same = 0;
    MPI_Allreduce(&same, &all_same, 1, MPI_INT, MPI_MIN, t->world);
    t->group_on_one_node = all_same;
    return WS_OK;
}

int topology_check_heads(const ws_topology *t, int num_heads, const char *model_name) {
    if (t->tp > num_heads)
        return ws_errorf(WS_ERR_ARG, "--tp %d is larger than the %d attention heads of %s",
                         t->tp, num_heads, model_name);
    return WS_OK;
}

int topology_agree(MPI_Comm comm, int rc) {
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    int mine = rc < 0 ? rank : size, first = size;
    if (MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm) != MPI_SUCCESS)
        return ws_errorf(WS_ERR_COMM, "MPI_Allreduce failed while agreeing on a setup step");
    if (first == size) return WS_OK;
    struct { int code; char msg[AGREE_MSG_MAX]; } info = {rc, ""};
    if (rank == first) {
        char host[WS_HOST_MAX] = "unknown";
        gethostname(host, sizeof host);
        host[sizeof host - 1] = '\0';
        int world_rank = 0;
        MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
        snprintf(info.msg, sizeof info.msg, "rank %d (%s): %s", world_rank, host, ws_error_message());
    }
    if (MPI_Bcast(&info, (int)sizeof info, MPI_BYTE, first, comm) != MPI_SUCCESS)
        return ws_errorf(WS_ERR_COMM, "MPI_Bcast failed while agreeing on a setup step");
    info.msg[AGREE_MSG_MAX - 1] = '\0';
    return ws_errorf(info.code, "%s", info.msg);
}

void topology_describe(const ws_topology *t, const char *device, char *buf, size_t len) {
    snprintf(buf, len, "host %s rank %d/%d local rank %d/%d TP group %d/%d tp rank %d/%d device %s",
             t->host, t->world_rank, t->world_size, t->local_rank, t->local_size, t->group, t->dp,
             t->tp_rank, t->tp, device);
}
