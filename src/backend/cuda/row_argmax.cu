/* CUDA arg-max per row (the nearest-centroid step of k-means after the GEMM): one warp per row,
 * each lane scans the columns lane, lane + 32, ... in order, then a butterfly of shuffles keeps the
 * larger value, the lower column on ties, a number over NaN. Memory bound: reads M*N*4 bytes once. */
#include "backend/cuda/cuda_kernels.h"
#include "backend/cuda/cuda_ptx.h"

enum { ARGMAX_WARPS = 8 };

/* 1 when (v, i) should replace (best, bi): larger, or equal with a lower column, or a number over NaN. */
static __device__ bool argmax_better(float v, int i, float best, int bi) {
    if (isnan(v)) return false;
    return isnan(best) || v > best || (v == best && i < bi);
}

static __global__ void row_argmax_kernel(int32_t *idx, float *val, const float *scores, int M, int N) {
    const int lane = threadIdx.x % 32;
    const size_t m = (size_t)blockIdx.x * ARGMAX_WARPS + threadIdx.x / 32;
    if (m >= (size_t)M) return;   /* whole warps leave together: m is the same for the warp */
    const float *s = scores + m * N;
    float best = NAN;
    int bi = -1;
    for (int n = lane; n < N; n += 32)
        if (argmax_better(s[n], n, best, bi)) best = s[n], bi = n;
    for (int o = 16; o > 0; o >>= 1) {
        const float v = __shfl_xor_sync(0xffffffffu, best, o);
        const int i = __shfl_xor_sync(0xffffffffu, bi, o);
        if (argmax_better(v, i, best, bi)) best = v, bi = i;
    }
    if (lane == 0) {
        idx[m] = bi;
        val[m] = best;
    }
}

extern "C" cudaError_t cuda_row_argmax(int32_t *idx, float *val, const float *scores, int M, int N,
                                       cudaStream_t stream) {
    if (M <= 0) return cudaSuccess;
    const unsigned blocks = (unsigned)((M + ARGMAX_WARPS - 1) / ARGMAX_WARPS);
    CUDA_LAUNCH(row_argmax_kernel, blocks, 32 * ARGMAX_WARPS, stream, idx, val, scores, M, N);
    return cudaGetLastError();
}
