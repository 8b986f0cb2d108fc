/* Process topology of a run: MPI start and stop in a fixed order, the world split into dp
 * data-parallel groups x tp tensor-parallel ranks, and collective agreement on setup steps.
 *
 * Layout: consecutive world ranks form one TP group (ranks [g*tp, (g+1)*tp) are group g), so a
 * TP group sits inside one node when the launcher places ranks by node. The local rank (rank on
 * this node, used to pick a device) comes from MPI_Comm_split_type(MPI_COMM_TYPE_SHARED).
 * Order (as NCCL's examples; docs/contributing.md): topology_mpi_init -> topology_create (local
 * rank, dp x tp split) -> device choice -> communicators over tp_comm -> ... -> topology_free ->
 * topology_mpi_finalize. */
#ifndef WEBSSL_COMM_TOPOLOGY_H
#define WEBSSL_COMM_TOPOLOGY_H

#include <mpi.h>
#include <stddef.h>

#define WS_HOST_MAX 64

typedef struct {
    int world_rank, world_size;
    int local_rank, local_size;  /* rank and rank count on this node (shared-memory split) */
    int tp, dp;                  /* world_size == dp * tp */
    int tp_rank;                 /* rank inside the TP group: world_rank % tp */
    int group;                   /* TP group (= DP rank): world_rank / tp */
    int is_leader;               /* tp_rank == 0: reads, decodes and writes for its group */
    int group_on_one_node;       /* 1 when every rank of every TP group shares a node */
    char host[WS_HOST_MAX];
    MPI_Comm world;              /* duplicate of MPI_COMM_WORLD */
    MPI_Comm node;               /* ranks on this node */
    MPI_Comm tp_comm;            /* the TP group */
    MPI_Comm leaders;            /* the TP leaders (MPI_COMM_NULL on other ranks) */
} ws_topology;

/* MPI_Init_thread with MPI_THREAD_FUNNELED (decoder threads never call MPI), ws_fatal's stop
 * hook set to MPI_Abort (common/check.h), and the log's rank and host set (common/log.h), so every
 * error line from here on says where it comes from. Works without a launcher (singleton) and
 * when MPI is already up. Returns WS_OK or WS_ERR_COMM. */
int topology_mpi_init(int *argc, char ***argv);
/* MPI_Finalize when MPI is up and not yet finalized. */
void topology_mpi_finalize(void);

/* Split the world into dp x tp. `tp` must be >= 1 and divide the world size: otherwise
 * WS_ERR_ARG with a message naming --tp (the same on every rank, so no rank hangs). Collective
 * over MPI_COMM_WORLD. On success `t` owns its communicators (topology_free). */
int topology_create(int tp, ws_topology *t);
void topology_free(ws_topology *t);

/* Check tp against a model's head count (each TP rank needs at least one head). Same result on
 * every rank. WS_OK or WS_ERR_ARG naming --tp and the head count. */
int topology_check_heads(const ws_topology *t, int num_heads, const char *model_name);

/* Collective agreement on a setup step over `comm`: every rank passes its own result `rc`
 * (WS_OK or a ws_err with its thread's message set). Returns WS_OK on every rank when all
 * succeeded; otherwise, on every rank, the lowest failing rank's code with its message
 * ("rank R (host): message") recorded as this thread's error. */
int topology_agree(MPI_Comm comm, int rc);

/* One line describing this rank: host, world rank, local rank, TP group and rank, device. */
void topology_describe(const ws_topology *t, const char *device, char *buf, size_t len);

#endif
