/* CPU arg-max per row (the nearest-centroid step of k-means after the GEMM): one pass over the
 * scores, rows split over the OpenMP threads. */
#include "backend/cpu/cpu.h"
#include "common/error.h"

#include <math.h>

int cpu_row_argmax(ws_backend *be, int32_t *idx, float *val, const float *scores, int M, int N) {
    (void)be;
    #pragma omp parallel for schedule(static)
    for (int m = 0; m < M; m++) {
        const float *s = scores + (size_t)m * N;
        float best = NAN;
        int32_t bi = -1;
        for (int n = 0; n < N; n++)
            if (s[n] > best || (isnan(best) && !isnan(s[n]))) best = s[n], bi = n;
        idx[m] = bi;
        val[m] = best;
    }
    return WS_OK;
}
