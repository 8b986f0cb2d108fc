/* The CUDA backend's host-pipeline entries (see cuda_pipeline.h). Input slot s is uploaded on the
 * copy stream after the event released[s] (the compute stream passed the slot's last reader), and
 * the compute stream waits for copied[s] before the ops that follow: the copy of batch i+1
 * overlaps the forward pass of batch i, and no buffer is overwritten while a kernel reads it.
 * Graphs: the compute stream's work between graph_begin and graph_end is captured
 * (thread-local mode: only this thread's calls are checked for capture safety), instantiated and
 * replayed with one launch. Like every op, each entry returns WS_ERR_DEVICE naming the call and
 * the device when CUDA reports a failure (cuda_backend_op_status); in the debug mode
 * (WEBSSL_CUDA_SYNC=1, no graphs then) the kernel and the gather are also waited for. */
#include "backend/cuda/cuda_pipeline.h"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_kernels.h"
#include "common/log.h"

#include <stdlib.h>
#include <string.h>

/* Return the failure of one CUDA call as the entry's error, naming `what`. */
#define TRY(be, call, what) \
    do { \
        const cudaError_t try_rc_ = (call); \
        if (try_rc_ != cudaSuccess) return cuda_backend_op_status(be, try_rc_, what); \
    } while (0)

int cuda_pipeline_init(cuda_pipeline *p, cudaStream_t copy, int sync_each_op) {
    p->copy = copy;
    for (int s = 0; s < 2; s++) {
        CUDA_TRY(cudaEventCreateWithFlags(&p->copied[s], cudaEventDisableTiming));
        CUDA_TRY(cudaEventCreateWithFlags(&p->released[s], cudaEventDisableTiming));
    }
    const char *g = getenv("WEBSSL_CUDA_GRAPHS");
    p->graphs = !sync_each_op && !(g && strcmp(g, "0") == 0);
    if (!p->graphs) LOG_INFO("cuda: forward passes run without CUDA graphs (%s)",
                             sync_each_op ? "WEBSSL_CUDA_SYNC" : "WEBSSL_CUDA_GRAPHS=0");
    return WS_OK;
}

void cuda_pipeline_free(cuda_pipeline *p) {
    for (int s = 0; s < 2; s++) {
        if (p->copied[s]) CUDA_CHECK(cudaEventDestroy(p->copied[s]));
        if (p->released[s]) CUDA_CHECK(cudaEventDestroy(p->released[s]));
    }
}

int cuda_pipeline_normalize(ws_backend *be, float *pixels, const uint8_t *u8, int B, int R,
                            const float mean[3], const float std[3]) {
    return cuda_backend_op_status(be, cuda_normalize(pixels, u8, B, R, mean, std, cuda_backend_stream(be)),
                                  "normalize");
}

int cuda_pipeline_slot_upload(ws_backend *be, int slot, void *dst, const void *src_host, size_t bytes) {
    cuda_pipeline *p = cuda_backend_pipeline(be);
    if (!bytes) return WS_OK;
    TRY(be, cudaStreamWaitEvent(p->copy, p->released[slot], 0), "slot_upload");
    TRY(be, cudaMemcpyAsync(dst, src_host, bytes, cudaMemcpyHostToDevice, p->copy), "slot_upload");
    TRY(be, cudaEventRecord(p->copied[slot], p->copy), "slot_upload");
    return cuda_backend_op_status(be, cudaStreamWaitEvent(cuda_backend_stream(be), p->copied[slot], 0),
                                  "slot_upload");
}

int cuda_pipeline_slot_release(ws_backend *be, int slot) {
    return cuda_backend_op_status(
        be, cudaEventRecord(cuda_backend_pipeline(be)->released[slot], cuda_backend_stream(be)), "slot_release");
}

int cuda_pipeline_slot_wait(ws_backend *be, int slot) {
    return cuda_backend_op_status(be, cudaEventSynchronize(cuda_backend_pipeline(be)->released[slot]),
                                  "slot_wait");
}

int cuda_pipeline_copy_rows(ws_backend *be, void *dst, const void *src, size_t row_bytes, size_t src_pitch,
                            size_t rows) {
    if (!rows || !row_bytes) return WS_OK;
    return cuda_backend_op_status(be,
                                  cudaMemcpy2DAsync(dst, row_bytes, src, src_pitch, row_bytes, rows,
                                                    cudaMemcpyDeviceToDevice, cuda_backend_stream(be)),
                                  "copy_rows");
}

int cuda_pipeline_download_async(ws_backend *be, void *dst_host, const void *src, size_t bytes) {
    if (!bytes) return WS_OK;
    return cuda_backend_op_status(
        be, cudaMemcpyAsync(dst_host, src, bytes, cudaMemcpyDeviceToHost, cuda_backend_stream(be)), "download_async");
}

int cuda_pipeline_graph_capturable(ws_backend *be) { return cuda_backend_pipeline(be)->graphs; }

int cuda_pipeline_graph_begin(ws_backend *be) {
    return cuda_backend_op_status(
        be, cudaStreamBeginCapture(cuda_backend_stream(be), cudaStreamCaptureModeThreadLocal), "graph_begin");
}

int cuda_pipeline_graph_end(ws_backend *be, void **graph) {
    cudaGraph_t g = NULL;
    cudaGraphExec_t exec = NULL;
    *graph = NULL;
    TRY(be, cudaStreamEndCapture(cuda_backend_stream(be), &g), "graph_end");
    const cudaError_t rc = cudaGraphInstantiate(&exec, g, 0);
    CUDA_CHECK(cudaGraphDestroy(g));
    if (rc != cudaSuccess)
        return ws_errorf(WS_ERR_DEVICE, "cuda device %d: instantiating the captured forward pass failed: %s "
                         "(WEBSSL_CUDA_GRAPHS=0 runs without graphs)", be->device, cudaGetErrorString(rc));
    *graph = exec;
    return WS_OK;
}

int cuda_pipeline_graph_launch(ws_backend *be, void *graph) {
    return cuda_backend_op_status(be, cudaGraphLaunch((cudaGraphExec_t)graph, cuda_backend_stream(be)),
                                  "graph_launch");
}

void cuda_pipeline_graph_free(ws_backend *be, void *graph) {
    (void)be;
    if (graph) CUDA_CHECK(cudaGraphExecDestroy((cudaGraphExec_t)graph));
}
