/* `webssl-dist sample --target N`: hierarchical balanced sampling from the cluster tree (Vo et al.
 * 2024, section 4, as their ssl-data-curation code runs it with one copy per row): the target is
 * split over the top-level clusters as evenly as their sizes allow (every cluster gets the same
 * share x, capped at its size, x the largest that fits; the few rows left over go one each to
 * clusters larger than x, drawn by the seed), then, depth first (each top cluster in index order,
 * down to its level-1 clusters before the next), within each cluster over its children the same
 * way, down to the level-1 clusters, from which the rows are drawn at random (seeded) or nearest
 * to the centroid first (--strategy closest), the two selections the reference defines. Rows
 * that were not assigned are never drawn.
 * Reads CDIR/assign/<shard>.h5 and CDIR/level<L>.h5; writes FILE (.h5: key, shard, row, cluster, in
 * shard order) and the same keys one per line in FILE with .txt for .h5. Rank 0 does the work
 * (it holds one int32 and one float per row). */
#ifndef WEBSSL_CURATE_SAMPLE_H
#define WEBSSL_CURATE_SAMPLE_H

#include <stdint.h>

typedef struct {
    const char *clusters;   /* cluster output directory */
    const char *output;     /* FILE.h5 */
    int64_t target;
    int closest;            /* 1: nearest to the centroid first; 0: random */
    uint64_t seed;
} sample_options;

typedef struct {
    int64_t rows, assigned, selected;
    int levels, top_clusters;
} sample_summary;

/* Split `target` over n groups of sizes size[n] as described above into out[n] (sum = min(target,
 * sum of sizes)); `state` is the generator for the left-over rows. */
void sample_split(const int64_t *size, int n, int64_t target, uint64_t *state, int64_t *out);

/* Run `sample` (single process). WS_OK or an error naming the file. */
int sample_run(const sample_options *o, sample_summary *s);

#endif
