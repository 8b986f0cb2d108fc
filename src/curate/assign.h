/* The assignment pass of `cluster`: every row of every embedding shard to its nearest centroid, in
 * one streaming pass, shards spread over the ranks (shard i on rank i mod size). Per input shard
 * DIR/<name>.h5 one file OUT/<name>.h5 (written under a temporary name and renamed, so a killed
 * run leaves no file that looks complete; a rerun skips the complete ones) with, in the shard's row
 * order:
 *   key      [N] string   the embedding shard's keys
 *   status   [N] int8     EMB_ROW_* (curate/emb_set.h): 0 assigned; otherwise cluster is -1
 *   cluster  [N] int32    nearest centroid
 *   distance [N] f32      to it (cosine: 1 - cos; L2: squared), NaN when not assigned
 * Root attributes: source (the shard file), k, metric, params (the centroids' description: a file
 * made from other centroids is redone), complete. */
#ifndef WEBSSL_CURATE_ASSIGN_H
#define WEBSSL_CURATE_ASSIGN_H

#include <mpi.h>
#include <stdint.h>

#include "curate/emb_set.h"
#include "curate/nearest.h"

typedef struct {
    int64_t rows, assigned;   /* rows written this run, of which assigned (status 0) */
    int64_t skipped_shards;   /* complete files found and kept */
    int64_t written_shards;
} assign_stats;

/* Assign every shard of `set` to centroids C[k, D] (described by `params`) into directory out_dir
 * (existing); complete files with the same params are kept. Collective:
 * stats are summed over the ranks. WS_OK or an error naming the shard. */
int assign_run(const emb_set *set, ws_backend *be, km_metric metric, const float *C, int k, const char *params,
               const char *out_dir, MPI_Comm comm, assign_stats *stats);

#endif
