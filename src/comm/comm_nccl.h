/* The NCCL communicator (comm.h) for one TP group: buffers are DEVICE memory, and every call is
 * enqueued on the CUDA backend's stream (backend ops->stream), so an all-reduce is ordered after the GEMM that produced its input and
 * before the op that reads it, with no host synchronisation. Built only when NCCL is found
 * (WEBSSL_HAVE_NCCL). comm_seconds counts the host time spent enqueueing.
 *
 * Start order (comm/topology.h): MPI up -> topology (local rank, dp x tp split) -> cudaSetDevice(local
 * GPU) -> backend_create("cuda") -> comm_nccl_create(tp_comm, backend): the TP leader (group rank 0)
 * makes the NCCL unique id, broadcasts it over `group` with MPI, and every rank joins with
 * ncclCommInitRank. Stop in reverse: comm_free (stream drained, ncclCommFinalize,
 * ncclCommDestroy) -> backend_free -> topology_free -> MPI_Finalize. */
#ifndef WEBSSL_COMM_COMM_NCCL_H
#define WEBSSL_COMM_COMM_NCCL_H

#include <mpi.h>

#include "backend/backend.h"
#include "comm/comm.h"

/* Collective over `group` (every rank must call it, with the device of its CUDA backend `be`
 * current; `be` must outlive the communicator). Every rank must be on a different GPU, which NCCL
 * requires: comm_create_tp (comm_tp.h) checks that before choosing NCCL. Returns WS_OK with *out
 * set, or the same WS_ERR_COMM on every rank with the failing call named. */
int comm_nccl_create(MPI_Comm group, ws_backend *be, ws_comm **out);

#endif
