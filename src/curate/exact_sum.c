/* Order-independent sums for k-means over MPI (see exact_sum.h). */
#include "curate/exact_sum.h"
#include "common/error.h"
#include "common/hot.h"

#include <limits.h>
#include <math.h>
#include <omp.h>

/* Columns of a thread's share, in multiples of a cache line of int64 sums. */
enum { COL_ALIGN = 8 };

int exact_sum_exponent(double maxabs, int64_t n) {
    if (!(maxabs > 0.0)) return 0;
    int e;
    frexp(maxabs, &e);                 /* maxabs < 2^e */
    e = 30 - e;                        /* maxabs * 2^e < 2^30 */
    while ((double)(n > 0 ? n : 1) * maxabs * ldexp(1.0, e) >= ldexp(1.0, 62)) e--;
    return e < -126 ? -126 : e > 126 ? 126 : e;
}

int exact_sum_allreduce(MPI_Comm comm, int64_t *buf, size_t n) {
    for (size_t off = 0; off < n;) {
        const int c = n - off > (size_t)INT_MAX ? INT_MAX : (int)(n - off);
        if (MPI_Allreduce(MPI_IN_PLACE, buf + off, c, MPI_INT64_T, MPI_SUM, comm) != MPI_SUCCESS)
            return ws_errorf(WS_ERR_COMM, "k-means: all-reduce of %d sums failed", c);
        off += (size_t)c;
    }
    return 0;
}

int exact_sum_max(MPI_Comm comm, double *v) {
    if (MPI_Allreduce(MPI_IN_PLACE, v, 1, MPI_DOUBLE, MPI_MAX, comm) != MPI_SUCCESS)
        return ws_errorf(WS_ERR_COMM, "k-means: all-reduce (max) failed");
    return 0;
}

int exact_sum_doubles(MPI_Comm comm, double *v, int n) {
    if (MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_SUM, comm) != MPI_SUCCESS)
        return ws_errorf(WS_ERR_COMM, "k-means: all-reduce of %d statistics failed", n);
    return 0;
}

WS_HOT static void add_rows(int64_t *sums, const float *X, const int32_t *idx, int64_t m, int D, int d0, int d1,
                            float scale) {
    for (int64_t i = 0; i < m; i++) {
        if (idx[i] < 0) continue;
        int64_t *restrict s = sums + (size_t)idx[i] * D;
        const float *restrict x = X + (size_t)i * D;
        #pragma omp simd
        for (int d = d0; d < d1; d++) s[d] += exact_sum_fixed(x[d], scale);
    }
}

void exact_sum_rows(int64_t *sums, const float *X, const int32_t *idx, int64_t m, int D, float scale) {
    const int units = (D + COL_ALIGN - 1) / COL_ALIGN;
    #pragma omp parallel
    {
        const int T = omp_get_num_threads(), t = omp_get_thread_num();
        const int d0 = units * t / T * COL_ALIGN, d1 = units * (t + 1) / T * COL_ALIGN;
        if (d0 < D) add_rows(sums, X, idx, m, D, d0, d1 < D ? d1 : D, scale);
    }
}
