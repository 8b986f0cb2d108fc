/* Sums that come out bit-identical whatever the number of ranks and the order of the rows:
 * k-means centroid sums are accumulated as 64-bit fixed point (value * 2^e, rounded once per
 * value) and all-reduced as integers, whose addition is exact and associative. Floating-point
 * sums would differ in their last bits between 1, 2 and 4 ranks (MPI reduces in an order it
 * chooses), and those bits can flip an assignment a few iterations later.
 * Precision: with e chosen by exact_sum_exponent the rounding per value is at most 2^-(e+1),
 * below 1e-11 of the largest value for up to 2^20 rows a cluster. */
#ifndef WEBSSL_CURATE_EXACT_SUM_H
#define WEBSSL_CURATE_EXACT_SUM_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

/* The exponent e for sums of at most `n` values of magnitude at most `maxabs`: the largest with
 * n * maxabs * 2^e < 2^62 (clamped to [0, 60]; 60 for maxabs 0). */
int exact_sum_exponent(double maxabs, int64_t n);

/* value * 2^e rounded to the nearest integer. */
static inline int64_t exact_sum_fixed(float v, double scale) { return (int64_t)__builtin_llrint((double)v * scale); }

/* In-place sum over `comm` of n int64 values (in pieces of at most INT_MAX). WS_OK or WS_ERR_COMM. */
int exact_sum_allreduce(MPI_Comm comm, int64_t *buf, size_t n);
/* In-place max over `comm` of one double; sum of n doubles (statistics only, not bit-stable). */
int exact_sum_max(MPI_Comm comm, double *v);
int exact_sum_doubles(MPI_Comm comm, double *v, int n);

#endif
