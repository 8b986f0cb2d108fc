/* Flat k-means, data parallel over MPI ranks (Lloyd's algorithm as faiss's Clustering runs it):
 * each rank holds its part of the training rows; centroids are replicated; every iteration
 * assigns the rows to their nearest centroid (curate/nearest.h: the backend's GEMM + arg-max),
 * all-reduces the per-cluster sums and counts as exact integers (curate/exact_sum.h), so 1, 2 or 4
 * ranks compute the same centroids bit for bit, and moves each centroid to the mean of its rows.
 * The rows go through in blocks (nearest.h's): each block's GEMM, arg-max and fixed-point sums
 * run one after the other, while its rows and scores are in cache.
 *   - cosine (spherical k-means): rows are unit length and centroids are normalised after each
 *     update; L2: plain means.
 *   - An empty cluster takes half of a large one (faiss's rule: a cluster chosen with probability
 *     proportional to its size minus one, its centroid copied and both copies moved apart by a
 *     relative 1/1024, alternating signs over the dimensions), drawn from a generator seeded by
 *     the run's seed and the iteration, so every rank and every resumed run draws the same.
 *   - After each iteration rank 0 rewrites the checkpoint (curate/cfile.h; its fsync overlaps the
 *     next iteration), so a killed run resumes at the last checkpointed iteration and ends with
 *     the same centroids. */
#ifndef WEBSSL_CURATE_KMEANS_H
#define WEBSSL_CURATE_KMEANS_H

#include <mpi.h>
#include <stdint.h>

#include "backend/backend.h"
#include "curate/nearest.h"

typedef struct {
    int k, D;
    km_metric metric;
    int iters;              /* centroid updates */
    uint64_t seed;
    const char *checkpoint; /* rewritten after every iteration; NULL: none */
    const char *params;     /* the run's parameters, stored in the checkpoint: a checkpoint written
                             * with other parameters is refused (WS_ERR_ARG naming it) */
    int verbose;            /* rank 0 logs each iteration */
} km_config;

typedef struct {
    double objective;       /* sum of the training rows' distances at the last assignment (before
                             * the last update, as faiss reports it) */
    int start_iter;         /* the iteration training started at (> 0: resumed) */
    int splits;             /* empty clusters refilled over the run */
    double seconds;         /* training wall time (this run) */
} km_result;

/* Train on this rank's rows X[n, D] (usable rows, unit length for cosine; n may be 0). C[k, D]
 * holds the initial centroids (the same on every rank) and receives the final ones; counts[k]
 * (may be NULL) the training rows of each cluster at the last assignment. Collective over `comm`. WS_OK or
 * an error (the same on every rank for checkpoint and argument errors). */
int km_train(const km_config *cfg, ws_backend *be, MPI_Comm comm, const float *X, int64_t n, float *C,
             int64_t *counts, km_result *res);

/* Initial centroids as faiss picks them: k distinct rows of the training set chosen by `seed`,
 * here by global position in the training rows (this rank holds positions [first, first + n)).
 * Collective; C[k, D] is the same on every rank. */
int km_init_rows(MPI_Comm comm, const float *X, int64_t first, int64_t n, int64_t total, int k, int D,
                 uint64_t seed, float *C);

/* A reproducible 64-bit generator (splitmix64) for sampling, initialisation and splits. */
static inline uint64_t km_rand(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
/* Uniform in [0, 1). */
static inline double km_rand_unit(uint64_t *state) { return (double)(km_rand(state) >> 11) * 0x1.0p-53; }

/* Choose `s` of the positions [0, n) uniformly (selection sampling: one pass, no memory), in
 * increasing order, into out[s]. */
void km_choose(uint64_t seed, int64_t n, int64_t s, int64_t *out);

#endif
