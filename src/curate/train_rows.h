/* The k-means training set: at most k * max_per_centroid rows of the embedding set (all of them
 * when there are fewer), chosen by the seed alone, so every number of ranks trains on the same
 * rows: positions drawn in one pass over the global row numbers (kmeans.h km_choose), then split
 * into equal consecutive parts, one per rank, each rank reading its part from the shards.
 * Rows with a bad status (failed image, NaN or infinity, all zeros under cosine) are dropped;
 * cosine rows are scaled to unit length. */
#ifndef WEBSSL_CURATE_TRAIN_ROWS_H
#define WEBSSL_CURATE_TRAIN_ROWS_H

#include <mpi.h>
#include <stdint.h>

#include "curate/emb_set.h"

typedef struct {
    float *X;           /* [n, D] this rank's usable rows */
    int64_t n;
    int64_t first;      /* position of X's first row among all ranks' usable rows */
    int64_t total;      /* usable rows over all ranks */
    int64_t drawn;      /* rows drawn before dropping the unusable ones */
} train_rows;

/* Draw and read the training rows (collective over comm). WS_OK or an error naming the file. */
int train_rows_load(const emb_set *set, int64_t max_rows, uint64_t seed, int normalise, MPI_Comm comm,
                    train_rows *t);
void train_rows_free(train_rows *t);

#endif
