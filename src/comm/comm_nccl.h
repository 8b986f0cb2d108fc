/* The NCCL communicator (comm.h) for one TP group: buffers are DEVICE memory, and every call is
 * enqueued on the CUDA stream given at creation (the backend's compute stream,
 * cuda_backend_stream()), so an all-reduce is ordered after the GEMM that produced its input and
 * before the op that reads it, with no host synchronisation. Built only when NCCL is found
 * (WEBSSL_HAVE_NCCL). comm_seconds counts the host time spent enqueueing.
 *
 * Start order (STYLE #6): MPI up -> topology (local rank, dp x tp split) -> cudaSetDevice(local
 * GPU) -> backend_cuda_create -> comm_nccl_create(tp_comm, stream): the TP leader (group rank 0)
 * makes the NCCL unique id, broadcasts it over `group` with MPI, and every rank joins with
 * ncclCommInitRank. Stop in reverse: comm_free (stream drained, ncclCommFinalize,
 * ncclCommDestroy) -> backend_free -> topology_free -> MPI_Finalize. */
#ifndef WEBSSL_COMM_COMM_NCCL_H
#define WEBSSL_COMM_COMM_NCCL_H

#include <cuda_runtime_api.h>
#include <mpi.h>

#include "comm/comm.h"

/* Collective over `group` (every rank must call it, with its device already current). Before
 * NCCL is touched the ranks compare their GPUs: two ranks of the group on one GPU (which NCCL
 * refuses) is an error on every rank naming both ranks and the GPU. Returns WS_OK with *out set,
 * or the same ws_err on every rank (WS_ERR_COMM / WS_ERR_DEVICE) with the failing call named. */
int comm_nccl_create(MPI_Comm group, cudaStream_t stream, ws_comm **out);

#endif
