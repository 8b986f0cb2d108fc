/* Sums that come out bit-identical whatever the number of ranks and the order of the rows:
 * k-means centroid sums are accumulated as fixed point (each value times 2^e, rounded to a 32-bit
 * integer, summed in 64 bits) and all-reduced as integers, whose addition is exact and
 * associative. Floating-point sums would differ in their last bits between 1, 2 and 4 ranks (MPI
 * reduces in an order it chooses), and those bits can flip an assignment a few iterations later.
 * Precision: e makes the largest value about 2^30, so each value is kept to 2^-30 of the largest
 * (1e-9: far below f32 centroids' 6e-8). 32-bit values because float -> int32 conversion is one
 * vector instruction on every x86-64 (float -> int64 needs AVX-512DQ). */
#ifndef WEBSSL_CURATE_EXACT_SUM_H
#define WEBSSL_CURATE_EXACT_SUM_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

/* The exponent e for sums of at most `n` values of magnitude at most `maxabs`: the largest with
 * maxabs * 2^e < 2^30 and n * maxabs * 2^e < 2^62 (in [-126, 126]; 0 for maxabs 0). */
int exact_sum_exponent(double maxabs, int64_t n);

/* value * scale (2^e, exact in float) rounded to an integer, halves away from zero (the float add
 * may round a value above 2^23 to the next integer: still a fixed function of the value, which is
 * all the reductions need). */
static inline int32_t exact_sum_fixed(float v, float scale) {
    const float t = v * scale;
    return (int32_t)(t + (t < 0.0f ? -0.5f : 0.5f));
}

/* Add each of m rows X[m, D] in fixed point to the sums of its cluster: sums[idx[i] * D + d] +=
 * exact_sum_fixed(X[i * D + d], scale); rows with idx < 0 are skipped. The dimensions are split
 * over the OpenMP threads (each owns the same columns of every cluster's sums: no per-thread
 * copies, no two threads on one cache line), so it runs while the rows are still in cache from
 * the GEMM that assigned them. */
void exact_sum_rows(int64_t *sums, const float *X, const int32_t *idx, int64_t m, int D, float scale);

/* In-place sum over `comm` of n int64 values (in pieces of at most INT_MAX). WS_OK or WS_ERR_COMM. */
int exact_sum_allreduce(MPI_Comm comm, int64_t *buf, size_t n);
/* In-place max over `comm` of one double; sum of n doubles (statistics only, not bit-stable). */
int exact_sum_max(MPI_Comm comm, double *v);
int exact_sum_doubles(MPI_Comm comm, double *v, int n);

#endif
