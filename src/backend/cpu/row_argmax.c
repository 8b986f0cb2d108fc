/* CPU arg-max per row (the nearest-centroid step of k-means after the GEMM), rows split over the
 * OpenMP threads. Two vectorised passes over the row (in L1 for k up to thousands): the largest
 * number (a comparison NaN never wins), then the first column holding it; a branchy single pass
 * with the NaN rule, or fmaxf (a library call per value), ran several times slower. */
#include "backend/cpu/cpu.h"
#include "common/error.h"

#include <math.h>

int cpu_row_argmax(ws_backend *be, int32_t *idx, float *val, const float *scores, int M, int N) {
    (void)be;
    #pragma omp parallel for schedule(static)
    for (int m = 0; m < M; m++) {
        const float *s = scores + (size_t)m * N;
        float best = -INFINITY;
        #pragma omp simd reduction(max : best)
        for (int n = 0; n < N; n++) best = s[n] > best ? s[n] : best;
        int32_t bi = -1;
        for (int n = 0; n < N; n++)
            if (s[n] == best) {   /* no column matches when every score is NaN */
                bi = n;
                break;
            }
        idx[m] = bi;
        val[m] = bi < 0 ? NAN : best;
    }
    return WS_OK;
}
