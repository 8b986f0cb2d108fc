/* SemDeDup within one cluster (Abbas et al. 2023, "SemDeDup: Data-efficient learning at web-scale
 * through semantic deduplication"), as NeMo Curator runs it: the cluster's rows are put in the
 * --keep order, then each row's largest cosine similarity to any EARLIER row of that order (and
 * which row that is) is computed; a row is a duplicate at threshold eps when that similarity
 * exceeds 1 - eps. The first row of a group is the one kept, so the order decides which copy
 * survives:
 *   hard    by distance to the centroid, farthest first (ties: larger row id first)
 *   easy    nearest first (ties: smaller row id first)
 *   random  a shuffle drawn from the seed and the cluster number
 * Every earlier row counts, duplicates included (the paper's rule, not a transitive closure).
 * Similarities come from the backend's matmul in blocks of rows against blocks of earlier rows,
 * so memory beyond the cluster's rows is one block x block matrix. */
#ifndef WEBSSL_CURATE_SEMDEDUP_H
#define WEBSSL_CURATE_SEMDEDUP_H

#include <stdint.h>

#include "backend/backend.h"

typedef enum { KEEP_HARD = 0, KEEP_EASY, KEEP_RANDOM } semdedup_keep;

/* The order of a cluster's m rows (global row ids `id`, distances `dist` to the centroid) into
 * order[m] (positions 0..m-1). */
void semdedup_order(semdedup_keep keep, uint64_t seed, int cluster, const int64_t *id, const float *dist, int64_t m,
                    int64_t *order);

/* For unit rows X[m, D] already in keep order: max_sim[j] = max over i < j of x_i . x_j and
 * prev[j] = that i (the lowest i on ties); row 0, which has no earlier row, gets max_sim -2 (below
 * any cosine) and prev -1. Blocks of `block` rows (0: 2048); the backend's f32 GEMM path must be
 * selected (gemm_select) before. WS_OK or an error from the backend. */
int semdedup_cluster(ws_backend *be, const float *X, int64_t m, int D, int block, float *max_sim, int64_t *prev);

#endif
