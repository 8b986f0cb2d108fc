/* Times the CUDA attention kernel alone (cuda_attention on bf16 q, k, v with a bf16 output: the
 * tensor-core kernel at hs 64, 80, 128) for one shape and prints one JSON line with seconds per
 * call and TFLOP/s (4 * B * NH * N^2 * hs FLOPs per call), for tests/bench/bench_cuda_vs_torch.py
 * to set beside PyTorch SDPA.
 * usage: bench_attention B N NH hs [iters] */
#include <stdio.h>
#include <stdlib.h>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_kernels.h"
#include "common/dtype.h"
#include "gpu_common.h"

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: bench_attention B N NH hs [iters]\n");
        return 1;
    }
    gpu_skip_without_device("bench_attention");
    const int B = atoi(argv[1]), N = atoi(argv[2]), NH = atoi(argv[3]), hs = atoi(argv[4]);
    const int iters = argc > 5 ? atoi(argv[5]) : 20;
    ws_backend *be = NULL;
    if (backend_create("cuda", 0, 0, &be) != WS_OK) {
        fprintf(stderr, "%s\n", ws_error_message());
        return 1;
    }
    const size_t nq = (size_t)B * N * 3 * NH * hs, no = (size_t)B * N * NH * hs;
    uint64_t seed = 1;
    float *qkv = gpu_random(nq, 1.0f, &seed);
    void *dq = gpu_put_dt(be, qkv, nq, WS_DTYPE_BF16), *dout = gpu_put_dt(be, NULL, no, WS_DTYPE_BF16);
    if (!dq || !dout) {
        fprintf(stderr, "bench_attention: out of device memory for B=%d N=%d NH=%d hs=%d\n", B, N, NH, hs);
        return 1;
    }
    cudaStream_t s = cuda_backend_stream(be);
    cudaEvent_t t0, t1;
    CUDA_CHECK(cudaEventCreate(&t0));
    CUDA_CHECK(cudaEventCreate(&t1));
    CUDA_CHECK(cuda_attention(dout, dq, WS_DTYPE_BF16, B, N, NH, hs, 1, s));   /* warm-up */
    CUDA_CHECK(cudaEventRecord(t0, s));
    for (int i = 0; i < iters; i++) CUDA_CHECK(cuda_attention(dout, dq, WS_DTYPE_BF16, B, N, NH, hs, 1, s));
    CUDA_CHECK(cudaEventRecord(t1, s));
    CUDA_CHECK(cudaEventSynchronize(t1));
    float ms = 0.0f;
    CUDA_CHECK(cudaEventElapsedTime(&ms, t0, t1));
    const double sec = ms * 1e-3 / iters, flops = 4.0 * B * NH * (double)N * N * hs;
    printf("{\"B\": %d, \"N\": %d, \"NH\": %d, \"hs\": %d, \"seconds\": %.6e, \"tflops\": %.3f}\n", B, N, NH, hs,
           sec, flops / sec * 1e-12);
    CUDA_CHECK(cudaEventDestroy(t0));
    CUDA_CHECK(cudaEventDestroy(t1));
    be->ops->free(be, dq);
    be->ops->free(be, dout);
    backend_free(be);
    free(qkv);
    return 0;
}
