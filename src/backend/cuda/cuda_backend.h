/* The CUDA backend beyond the shared table (backend/backend.h), for the CUDA tests and
 * benchmarks that enqueue their own kernels: the stream the ops run on. Host code; a ws_backend
 * passed here must come from backend_cuda_create(). */
#ifndef WEBSSL_BACKEND_CUDA_CUDA_BACKEND_H
#define WEBSSL_BACKEND_CUDA_CUDA_BACKEND_H

#include <cuda_runtime_api.h>

#include "backend/backend.h"

/* The stream every op of `be` is enqueued on, in order (ops->stream, typed). */
cudaStream_t cuda_backend_stream(ws_backend *be);

#endif
