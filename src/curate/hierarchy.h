/* Hierarchical k-means (Vo et al. 2024, "Automatic Data Curation for Self-Supervised Learning: A
 * Clustering-Based Approach", section 4, as their released code runs it): level 1 is the flat
 * k-means over the rows (cluster.h); each level L >= 2 takes the k_(L-1) centroids of level L-1
 * as its points and
 *   1. runs Euclidean k-means on them into k_L clusters: k-means++ start, `level_iters` Lloyd
 *      steps (curate/level_kmeans.h), then assigns every point;
 *   2. `resample_steps` times: takes from each cluster the `r` points closest to its centroid
 *      (ties by position), or `r` drawn at random with `resample_random` (their union in position
 *      order), runs a fresh k-means (k-means++ start,
 *      `level_iters` steps) on that union alone, and reassigns every point of the level to the new
 *      centroids. r is `resample_rows`, or by default ceil(k_(L-1) / (2 k_L)), half the mean
 *      cluster size, the rule of the reference's configurations; with r <= 1 there is no
 *      resampling (the reference skips it too), and a step that would draw fewer than k_L
 *      points (many empty clusters) ends the level's resampling.
 * Resampling evens the clusters out: a dense region gives each of its clusters only r points
 * to the next k-means, so it no longer pulls many centroids, and the top level spreads over
 * concepts rather than over density.
 * Every draw comes from hierarchy_seed(seed, level, step). Levels >= 2 have at most k_1 points,
 * held on every rank; the assignments are dealt over the ranks (level_kmeans.h) and the result is
 * the same on any rank count. Rank 0 writes OUT/level<L>.h5:
 *   centroids [k_L, D] f32, parent [k_(L-1)] int32 (the level-L cluster of each level L-1
 *   centroid), distance [k_(L-1)] f32 (squared L2), counts [k_L] int64; attributes params,
 *   level, k. */
#ifndef WEBSSL_CURATE_HIERARCHY_H
#define WEBSSL_CURATE_HIERARCHY_H

#include "curate/cluster.h"

#define HIERARCHY_SEED_SALT 0x6b6d70706c76ull

/* Levels 2..o->levels from the level 1 centroids C1[k_1, D]. Collective over t->world. */
int hierarchy_run(const cluster_options *o, const ws_topology *t, const float *C1, int D);

/* The points per cluster of a resampling step at level l (0-based, l >= 1). */
int hierarchy_resample_rows(const cluster_options *o, int l);

/* The generator seed of level `level` (1-based) and step `step` (0: the first k-means). */
uint64_t hierarchy_seed(uint64_t seed, int level, int step);

#endif
