/* A communicator over DEVICE buffers built on a host-buffer communicator (the MPI one): each call
 * copies the buffer into a host buffer of the backend (pinned on CUDA), runs the host
 * communicator's operation, and copies the result back, ordered on the backend's queue. Slower
 * than NCCL, but it runs tp > 1 with several ranks sharing one GPU, which NCCL refuses, so the
 * sharded GPU math is testable on a one-GPU machine (docs/cuda.md). It uses only the backend
 * table (backend/backend.h), so it runs over the CPU backend too. */
#ifndef WEBSSL_COMM_COMM_STAGED_H
#define WEBSSL_COMM_COMM_STAGED_H

#include "backend/backend.h"
#include "comm/comm.h"

/* Takes over `host` (freed by comm_free, also when this returns NULL); `be` must outlive the
 * communicator. NULL when out of memory (or when `host` is NULL). */
ws_comm *comm_staged_create(ws_comm *host, ws_backend *be);

#endif
