/* CPU arg-max per row (the nearest-centroid step of k-means after the GEMM), rows split over the
 * OpenMP threads. One pass over the row in LANES independent lanes (a vector register each for the
 * best value and its column, so the compiler vectorises it; lane l sees columns l, l + LANES, ...
 * in order and keeps the first of equal values), then the lanes are merged: the largest value, the
 * lowest column among the lanes holding it. A NaN never wins (its comparisons are false); a row of
 * -inf gives its first column; a row of NaNs gives column -1 and value NaN. The rule of the CUDA
 * kernel (row_argmax.cu), with which it is tested identical. The two-pass form (the largest, then
 * the first column equal to it) read every row twice. */
#include "backend/cpu/cpu.h"
#include "common/error.h"

#include <math.h>

enum { LANES = 16 };

CPU_HOT static int32_t argmax_row(const float *s, int N, float *val) {
    float bv[LANES];
    int32_t bi[LANES];
    for (int l = 0; l < LANES; l++) bv[l] = -INFINITY, bi[l] = -1;
    int n0 = 0;
    for (; n0 + LANES <= N; n0 += LANES)
        for (int l = 0; l < LANES; l++) {
            const float v = s[n0 + l];
            const int take = v > bv[l] || (bi[l] < 0 && v == bv[l]);   /* the second: a first -inf */
            bv[l] = take ? v : bv[l];
            bi[l] = take ? n0 + l : bi[l];
        }
    for (int l = 0; n0 + l < N; l++) {
        const float v = s[n0 + l];
        if (v > bv[l] || (bi[l] < 0 && v == bv[l])) bv[l] = v, bi[l] = n0 + l;
    }
    int32_t best = -1;
    for (int l = 0; l < LANES; l++)
        if (bi[l] >= 0 && (best < 0 || bv[l] > s[best] || (bv[l] == s[best] && bi[l] < best))) best = bi[l];
    *val = best < 0 ? NAN : s[best];
    return best;
}

int cpu_row_argmax(ws_backend *be, int32_t *idx, float *val, const float *scores, int M, int N) {
    (void)be;
    #pragma omp parallel for schedule(static)
    for (int m = 0; m < M; m++) idx[m] = argmax_row(scores + (size_t)m * N, N, val + m);
    return WS_OK;
}
