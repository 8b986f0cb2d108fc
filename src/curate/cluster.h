/* `webssl-dist cluster`: k-means over the embedding shards of an `embed` output directory, flat
 * (one k) or hierarchical (several, finest first), data parallel over the MPI ranks, resumable.
 * Output directory layout:
 *   OUT/centroids.h5         level 1: centroids [k, D] f32, counts [k] int64 (training rows per
 *                            cluster), attributes params, k, metric, feature, objective, seed
 *   OUT/checkpoint.h5        level 1 centroids after the last finished iteration (kept at the end:
 *                            a rerun with a larger --iters continues from it)
 *   OUT/assign/<shard>.h5    per embedding shard: key, status, cluster, distance (curate/assign.h)
 *   OUT/level<L>.h5          hierarchical levels L >= 2 (curate/hierarchy.h)
 * Everything is a function of the input, the options and the seed: 1, 2 or 4 ranks, or a run
 * killed and resumed, give the same files. */
#ifndef WEBSSL_CURATE_CLUSTER_H
#define WEBSSL_CURATE_CLUSTER_H

#include <stdint.h>

#include "comm/topology.h"
#include "curate/nearest.h"

enum { CLUSTER_MAX_LEVELS = 8 };

typedef struct {
    const char *input;        /* embed output directory */
    const char *output;       /* created if missing */
    const char *feature;      /* "cls" (default) or "patch_mean" */
    const char *device;       /* "cpu" or "cuda" */
    int k[CLUSTER_MAX_LEVELS];
    int levels;
    km_metric metric;
    int iters;                /* k-means iterations (default 20, as faiss) */
    int max_per_centroid;     /* training rows per centroid (default 256, as faiss) */
    int threads;              /* CPU threads (0: OpenMP default) */
    int resample_steps;       /* hierarchical: resampling steps per level (Vo et al. 2024; curate/hierarchy.h) */
    int resample_rows;        /* hierarchical: points per cluster per resampling step (0: half the mean
                               * cluster size of the level, the reference's rule) */
    int resample_random;      /* hierarchical: 1 resample points at random, 0 the closest (default) */
    int level_iters;          /* hierarchical: Lloyd steps of each k-means at levels >= 2 (default 50) */
    uint64_t seed;
    const char *init;         /* initial level-1 centroids (dataset `centroids` [k, D]); NULL: k rows
                               * drawn by the seed, as faiss does */
    int verbose;
} cluster_options;

/* What a run did (the same on every rank). */
typedef struct {
    int64_t rows, usable, train_rows;
    double objective, train_seconds, assign_seconds;
    int start_iter, splits;
    int64_t written_shards, skipped_shards, assigned;
} cluster_summary;

/* Run `cluster` on topology t (collective). WS_OK or an error naming the input, file or option. */
int cluster_run(const cluster_options *o, const ws_topology *t, cluster_summary *sum);

/* The backend for a curation command: "cpu" with `threads`, or "cuda" on the GPU of this node-local
 * rank. Errors name --device. */
int curate_backend(const char *device, int threads, const ws_topology *t, ws_backend **be);

#endif
