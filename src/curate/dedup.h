/* `webssl-dist dedup`: SemDeDup (curate/semdedup.h) over the clusters `cluster` made, on MPI ranks.
 * Each rank reads the embedding rows and assignment files of its shards (shard i on rank i mod
 * size), the clusters are dealt to the ranks by size (largest first, to the rank with the least
 * pairwise work, size^2), the rows travel to their cluster's rank and the results back in two
 * all-to-all exchanges, and each rank writes, per shard, OUT/<shard>.h5 in the shard's row order:
 *   key              [N] string
 *   status           [N] int8     the assignment's status (curate/emb_set.h EMB_ROW_*)
 *   cluster          [N] int32    -1 when not assigned
 *   max_similarity   [N] f32      largest cosine to an earlier row of the keep order (NaN: none)
 *   duplicate_shard  [N] string   the shard of that row ("" when none)
 *   duplicate_row    [N] int64    its row in that shard (-1 when none)
 *   keep             [N, E] int8  per eps: 1 unless max_similarity > 1 - eps or not assigned
 * and OUT/summary.json: per eps the rows kept and removed. Same files for any number of ranks. */
#ifndef WEBSSL_CURATE_DEDUP_H
#define WEBSSL_CURATE_DEDUP_H

#include <stdint.h>

#include "comm/topology.h"
#include "curate/semdedup.h"

enum { DEDUP_MAX_EPS = 16 };

typedef struct {
    const char *input;      /* embed output directory */
    const char *clusters;   /* cluster output directory (centroids.h5, assign/) */
    const char *output;
    const char *device;
    double eps[DEDUP_MAX_EPS];
    int n_eps;
    semdedup_keep keep;
    uint64_t seed;
    int threads;
    int block;              /* rows per similarity block (0: 2048) */
} dedup_options;

typedef struct {
    int64_t rows, assigned, clusters, largest;
    int64_t kept[DEDUP_MAX_EPS];
    double seconds;
} dedup_summary;

/* Run dedup on topology t (collective). WS_OK or an error naming the file or option. */
int dedup_run(const dedup_options *o, const ws_topology *t, dedup_summary *s);

#endif
