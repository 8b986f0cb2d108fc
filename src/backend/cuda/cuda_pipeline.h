/* The CUDA backend's host-pipeline entries (backend.h: normalize, input slots, row copies,
 * asynchronous download, graphs), in cuda_pipeline.c. Their state lives in the backend's state
 * (backend_cuda.c), which hands it over with cuda_backend_pipeline(). Host code. */
#ifndef WEBSSL_BACKEND_CUDA_CUDA_PIPELINE_H
#define WEBSSL_BACKEND_CUDA_CUDA_PIPELINE_H

#include <stdint.h>

#include <cuda_runtime_api.h>

#include "backend/backend.h"

typedef struct {
    cudaStream_t copy;        /* the copy stream slot uploads run on (the backend's) */
    cudaEvent_t copied[2];    /* recorded on `copy` after slot s's upload; the compute stream waits */
    cudaEvent_t released[2];  /* recorded on the compute stream after slot s's last reader */
    int graphs;               /* 1 when passes may be captured: not with WEBSSL_CUDA_SYNC=1 (waits
                               * after each op) nor WEBSSL_CUDA_GRAPHS=0 */
} cuda_pipeline;

/* Events and the graph switch (sync_each_op: the backend's debug mode). WS_OK or an error naming
 * the call; cuda_pipeline_free releases what init made. */
int cuda_pipeline_init(cuda_pipeline *p, cudaStream_t copy, int sync_each_op);
void cuda_pipeline_free(cuda_pipeline *p);

/* The state of `be` (from backend_cuda_create). */
cuda_pipeline *cuda_backend_pipeline(ws_backend *be);
/* The status of op `op` that enqueued its work with status rc: WS_OK, or WS_ERR_DEVICE naming the
 * op and the device (in the debug mode, WEBSSL_CUDA_SYNC=1, the op is waited for first). */
int cuda_backend_op_status(ws_backend *be, cudaError_t rc, const char *op);

int cuda_pipeline_normalize(ws_backend *be, float *pixels, const uint8_t *u8, int B, int R,
                            const float mean[3], const float std[3]);
int cuda_pipeline_slot_upload(ws_backend *be, int slot, void *dst, const void *src_host, size_t bytes);
int cuda_pipeline_slot_release(ws_backend *be, int slot);
int cuda_pipeline_slot_wait(ws_backend *be, int slot);
int cuda_pipeline_copy_rows(ws_backend *be, void *dst, const void *src, size_t row_bytes,
                            size_t src_pitch, size_t rows);
int cuda_pipeline_download_async(ws_backend *be, void *dst_host, const void *src, size_t bytes);
int cuda_pipeline_graph_capturable(ws_backend *be);
int cuda_pipeline_graph_begin(ws_backend *be);
int cuda_pipeline_graph_end(ws_backend *be, void **graph);
int cuda_pipeline_graph_launch(ws_backend *be, void *graph);
void cuda_pipeline_graph_free(ws_backend *be, void *graph);

#endif
