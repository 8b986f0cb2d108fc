/* The index of an output directory: DIR/index.h5 whose virtual datasets (HDF5 VDS) present
 * every complete shard file as one table. Datasets: key, status and each feature dataset the
 * shards hold (cls, patch_mean, patch, head, proto_index, proto_score), rows concatenated in shard name order; plus
 * shard_name [S] (strings) and shard_start [S + 1] (int64, first row of each shard and the
 * total) to map a row back to its file. Sources are referenced by file name relative to DIR,
 * so the directory can be moved as a whole. Temporary files are not candidates; incomplete and
 * damaged files (every byte is checked against the file's checksum, io/shard_sum.h) are left
 * out, counted, and named in a warning with the reason. */
#ifndef WEBSSL_IO_H5_INDEX_H
#define WEBSSL_IO_H5_INDEX_H

#include <stdint.h>

typedef struct {
    int64_t shards, rows, skipped;   /* files indexed, rows, files left out */
} ws_index_info;

/* Write DIR/index.h5 (under a temporary name, then renamed). WS_OK, or WS_ERR_IO /
 * WS_ERR_FORMAT naming the file; WS_ERR_ARG when DIR holds no complete shard or the shards
 * disagree (features, dims, dtype). */
int h5_index_write(const char *dir, ws_index_info *info);

#endif
