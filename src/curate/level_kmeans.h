/* Euclidean k-means in float64 for the levels above 1 of hierarchical k-means, as Vo et al. 2024
 * run every level (their released code: squared L2, float64, k-means++ start, Lloyd steps):
 *   - k-means++ with greedy local trials (Arthur & Vassilvitskii 2007, as scikit-learn and the
 *     reference run it): the first centre is a point drawn uniformly; each next one is the best
 *     of 2 + floor(ln k) candidates, each drawn with probability proportional to its squared
 *     distance to the nearest centre chosen so far (the first point whose running sum of those
 *     distances reaches u x total), "best" being the candidate that leaves the smallest total;
 *   - then `iters` Lloyd steps: every centroid moves to the mean of its points; a cluster left
 *     empty keeps its centroid (the reference's rule, not faiss's split);
 *   - the draws come from km_rand (curate/kmeans.h) seeded by the caller, so a seed gives one
 *     result on any rank count.
 * The points are few (at most the level-1 k), so they are held whole, in double, on every rank.
 * Float64 is the reference's precision (its configurations run every level in float64) and what
 * makes the tree equal to a float64 implementation of the paper; the backend op table's GEMMs are
 * f32 / bf16, hence a direct cblas call here. The assignment is OpenBLAS's dgemm in blocks of LK_BLOCK points dealt round-robin to the ranks
 * of `comm`: every block has the same shape whatever the rank count, and the results are
 * combined by exact all-reduces (each value comes from one rank, the others add 0), so 1, 2 or 4
 * ranks give the same bits. k-means++ runs on every rank alike (sums in index order). */
#ifndef WEBSSL_CURATE_LEVEL_KMEANS_H
#define WEBSSL_CURATE_LEVEL_KMEANS_H

#include <mpi.h>
#include <stdint.h>

enum { LK_BLOCK = 256 };

/* Nearest centroid of each point X[n, D] among C[k, D]: idx[n] and squared L2 dist[n] (as
 * |x|^2 - 2 x.c + |c|^2). Collective over comm. */
int lk_assign(MPI_Comm comm, const double *X, int64_t n, const double *C, int k, int D, int32_t *idx,
              double *dist);

/* k-means++ centres of X[n, D] (n >= k) into C[k, D], drawn from `seed` (see above). */
int lk_kmeanspp(const double *X, int64_t n, int k, int D, uint64_t seed, double *C);

/* k-means++ from `seed`, then `iters` Lloyd steps: C[k, D] out. Collective over comm. */
int lk_train(MPI_Comm comm, const double *X, int64_t n, int k, int D, int iters, uint64_t seed, double *C);

#endif
