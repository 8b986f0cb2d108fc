/* The CUDA backend beyond the shared op table (backend/backend.h): device choice from the local
 * rank, pinned host buffers and asynchronous batch uploads that overlap compute, the stream the
 * ops run on (for the NCCL communicator), and the memory check that runs before the weights are
 * allocated. All functions are host code; a ws_backend passed here must come from
 * backend_cuda_create(). */
#ifndef WEBSSL_BACKEND_CUDA_CUDA_BACKEND_H
#define WEBSSL_BACKEND_CUDA_CUDA_BACKEND_H

#include <stddef.h>

#include <cuda_runtime_api.h>

#include "backend/backend.h"
#include "comm/comm.h"
#include "model/arch.h"

/* The GPU for a rank: local_rank modulo the visible device count (one GPU per rank when the
 * launcher starts as many ranks per node as there are GPUs). WS_ERR_DEVICE naming --device cuda
 * when no device is visible. Logs a warning when local_size ranks share fewer GPUs. */
int cuda_device_for_rank(int local_rank, int local_size, int *device);

/* Number of visible CUDA devices, 0 when there is none or no driver (never fails). */
int cuda_device_count(void);

/* The stream every op of `be` is enqueued on, in order. */
cudaStream_t cuda_backend_stream(ws_backend *be);

/* Pinned (page-locked) host memory for batch buffers: copies from it run asynchronously at full
 * PCIe/NVLink speed. NULL when out of memory. Free with cuda_host_free. */
void *cuda_host_alloc(size_t bytes);
void cuda_host_free(void *p);

/* Enqueue dst (device) <- src (pinned host) on the backend's copy stream and make the compute
 * stream wait for it: the call returns at once, the copy of batch k+1 overlaps the forward of
 * batch k, and ops enqueued after this call see the data. `src` must stay untouched until
 * cuda_upload_wait() (or a sync) returns: double-buffer the pinned batches. */
void cuda_upload_async(ws_backend *be, void *dst, const void *src, size_t bytes);
/* Block until every cuda_upload_async issued so far has finished reading its host buffer. */
void cuda_upload_wait(ws_backend *be);

/* A communicator over device buffers of `be` built on the host-buffer communicator `host`
 * (comm_mpi_create), which it takes over (freed by comm_free, also when this returns NULL):
 * every call stages through pinned host memory on the backend's stream. For tp > 1 with ranks
 * sharing a GPU, where NCCL (comm/comm_nccl.h) cannot run. NULL when out of memory. */
ws_comm *cuda_comm_staged_create(ws_comm *host, ws_backend *be);

/* Device memory a TP rank needs for architecture `a` at resolution `res` (<= 0: native), batch
 * B, tensor-parallel size tp and compute dtype dt: weights + activations (model/cost_model.h)
 * plus the backend's fixed workspaces. */
size_t cuda_memory_needed(const ws_arch *a, int res, int B, int tp, ws_dtype dt);

/* Check that the model fits in the free memory of `be`'s device before anything is allocated.
 * WS_OK, or WS_ERR_DEVICE with a message giving the memory needed, the memory free on the
 * device, and the smallest tp (<= num_heads) that fits, or the batch to lower when none does. */
int cuda_memory_check(ws_backend *be, const ws_arch *a, int res, int B, int tp, ws_dtype dt);

#endif
