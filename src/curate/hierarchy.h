/* Hierarchical k-means (Vo et al. 2024, "Automatic Data Curation for Self-Supervised Learning: A
 * Clustering-Based Approach", section 4): level 1 is the flat k-means over the rows (cluster.h);
 * each level L >= 2 clusters the centroids of level L-1 into k_L clusters, then runs
 * `resample_steps` resampling-clustering steps: from each cluster take the `resample_rows` points
 * closest to its centroid, run k-means on that union (starting from the current centroids; the
 * reference implementation restarts from a k-means++ draw, which a fixed seed makes no more
 * balanced), and reassign every point of the level. The resampling evens out the clusters: dense
 * regions no longer pull several centroids, so the top level spreads over concepts.
 * Levels >= 2 have at most k_1 points: every rank computes them the same way (no communication),
 * rank 0 writes OUT/level<L>.h5:
 *   centroids [k_L, D] f32, parent [k_{L-1}] int32 (the level-L cluster of each level L-1
 *   centroid), distance [k_{L-1}] f32, counts [k_L] int64; attributes params, level, k. */
#ifndef WEBSSL_CURATE_HIERARCHY_H
#define WEBSSL_CURATE_HIERARCHY_H

#include "curate/cluster.h"

/* Levels 2..o->levels from the level 1 centroids C1[k_1, D]. Collective over t->world. */
int hierarchy_run(const cluster_options *o, const ws_topology *t, ws_backend *be, const float *C1, int D);

#endif
