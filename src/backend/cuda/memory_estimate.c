/* GPU memory check before the model is allocated: what a TP rank needs (model/cost_model.h:
 * weights + activations + reserve, plus the cuBLASLt workspace) against what the device has free,
 * and the smallest tensor-parallel size that would fit when it does not. */
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_check.h"
#include "model/cost_model.h"

enum { GEMM_WORKSPACE_MIB = 32 };   /* gemm_cublaslt.c */
static const double GIB = 1024.0 * 1024.0 * 1024.0;

size_t cuda_memory_needed(const ws_arch *a, int res, int B, int tp, ws_dtype dt) {
    ws_cost c;
    if (cost_compute(a, res, B, tp, dt, &c) != WS_OK) return 0;
    return (size_t)cost_rank_bytes(&c) + ((size_t)GEMM_WORKSPACE_MIB << 20);
}

int cuda_memory_check(ws_backend *be, const ws_arch *a, int res, int B, int tp, ws_dtype dt) {
    ws_cost c;
    int rc = cost_compute(a, res, B, tp, dt, &c);
    if (rc != WS_OK) return rc;
    size_t free_b = 0, total_b = 0;
    CUDA_TRY(cudaSetDevice(be->device));
    CUDA_TRY(cudaMemGetInfo(&free_b, &total_b));
    const size_t need = cuda_memory_needed(a, res, B, tp, dt);
    if (need <= free_b) return WS_OK;
    for (int t = tp + 1; t <= a->num_heads; t++) {
        const size_t need_t = cuda_memory_needed(a, res, B, t, dt);
        if (need_t > 0 && need_t <= free_b)
            return ws_errorf(WS_ERR_DEVICE,
                             "%s needs %.1f GiB per GPU at --tp %d (batch %d, %s) but GPU %d has %.1f GiB free "
                             "of %.1f GiB; --tp %d fits (%.1f GiB per GPU)",
                             a->name, need / GIB, tp, B, ws_dtype_name(dt), be->device, free_b / GIB,
                             total_b / GIB, t, need_t / GIB);
    }
    return ws_errorf(WS_ERR_DEVICE,
                     "%s needs %.1f GiB per GPU at --tp %d (batch %d, %s) but GPU %d has %.1f GiB free of "
                     "%.1f GiB, and no tp up to %d heads fits: lower --batch%s",
                     a->name, need / GIB, tp, B, ws_dtype_name(dt), be->device, free_b / GIB, total_b / GIB,
                     a->num_heads, dt == WS_DTYPE_F32 ? " or use --dtype bf16" : "");
}
