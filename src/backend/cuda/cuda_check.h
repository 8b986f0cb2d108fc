/* Checks on CUDA runtime and cuBLAS(Lt) calls (NCCL_CHECK lives in comm/nccl.c), in two flavours:
 *   CUDA_CHECK / CUBLAS_CHECK: for calls in the middle of a run outside the ops (copies, frees,
 *     waits; the backend's ops return WS_ERR_DEVICE instead, backend_cuda.c). A failure there
 *     leaves the device in no state to continue: the rank logs the failing call with file and line
 *     and stops every rank through ws_fatal (MPI_Abort), so no rank hangs and no shard is renamed
 *     to its final name (the writer renames only after a complete shard).
 *   CUDA_TRY / CUBLAS_TRY: for setup (device choice, allocation of the model, handle creation),
 *     where the caller can still report and stop cleanly: record the failing call with ws_errorf
 *     and return WS_ERR_DEVICE from the enclosing function. */
#ifndef WEBSSL_BACKEND_CUDA_CUDA_CHECK_H
#define WEBSSL_BACKEND_CUDA_CUDA_CHECK_H

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "common/check.h"
#include "common/error.h"

#define CUDA_CHECK(call) \
    do { cudaError_t cu_rc_ = (call); \
         if (cu_rc_ != cudaSuccess) \
             ws_fatal(__FILE__, __LINE__, "%s failed: %s (%s)", #call, cudaGetErrorString(cu_rc_), \
                      cudaGetErrorName(cu_rc_)); \
    } while (0)

#define CUBLAS_CHECK(call) \
    do { cublasStatus_t cb_rc_ = (call); \
         if (cb_rc_ != CUBLAS_STATUS_SUCCESS) \
             ws_fatal(__FILE__, __LINE__, "%s failed: %s", #call, cublasGetStatusString(cb_rc_)); \
    } while (0)

#define CUDA_TRY(call) \
    do { cudaError_t cu_rc_ = (call); \
         if (cu_rc_ != cudaSuccess) \
             return ws_errorf(WS_ERR_DEVICE, "%s:%d: %s failed: %s", __FILE__, __LINE__, #call, \
                              cudaGetErrorString(cu_rc_)); \
    } while (0)

#define CUBLAS_TRY(call) \
    do { cublasStatus_t cb_rc_ = (call); \
         if (cb_rc_ != CUBLAS_STATUS_SUCCESS) \
             return ws_errorf(WS_ERR_DEVICE, "%s:%d: %s failed: %s", __FILE__, __LINE__, #call, \
                              cublasGetStatusString(cb_rc_)); \
    } while (0)

#endif
