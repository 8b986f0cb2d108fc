/* The communicator a TP group's model all-reduces with, chosen from where the backend keeps its
 * buffers and which GPU each rank is on (the one file that knows whether NCCL was built):
 *   host memory (CPU backend), or a group of one rank      -> MPI (comm_mpi.h)
 *   device memory, every rank of the group on its own GPU   -> NCCL (comm_nccl.h), when built
 *   device memory, two ranks on one GPU (NCCL refuses that),
 *   or a build without NCCL                                 -> MPI staged through host buffers
 *                                                              (comm_staged.h)
 * "Its own GPU" is judged by host name and GPU UUID, never by device ordinal: under
 * `srun --gpus-per-task=1` every rank sees its GPU as ordinal 0, yet the GPUs differ. */
#ifndef WEBSSL_COMM_COMM_TP_H
#define WEBSSL_COMM_COMM_TP_H

#include <mpi.h>

#include "backend/backend.h"
#include "comm/comm.h"
#include "comm/topology.h"

typedef enum { COMM_KIND_MPI, COMM_KIND_NCCL, COMM_KIND_STAGED } comm_kind;

/* Where one rank's device is: host name and device UUID (backend ops->device_uuid). */
typedef struct {
    char host[WS_HOST_MAX];
    unsigned char uuid[16];
} comm_device_id;

/* The choice for a group of n ranks whose devices are ids[0..n) (pure: the rule above; ids may
 * be NULL when !device_buffers). device_buffers: the backend's memory is not host memory;
 * have_nccl: NCCL is built. *why (when why is not NULL) gets a constant string saying why, e.g.
 * "ranks of a TP group share a GPU". */
comm_kind comm_pick_kind(int device_buffers, const comm_device_id *ids, int n, int have_nccl, const char **why);

/* Collective over `group` (the TP group; every rank calls it with its backend `be`, which must
 * outlive the communicator): gathers every rank's device identity, picks with comm_pick_kind and
 * creates the communicator; `group` is borrowed (the topology owns it). Returns WS_OK with *out
 * set (and *kind, *why when not NULL), or the same error on every rank. */
int comm_create_tp(MPI_Comm group, ws_backend *be, ws_comm **out, comm_kind *kind, const char **why);

#endif
