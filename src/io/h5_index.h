/* The index of an output directory: DIR/index.h5, whose virtual datasets (HDF5 VDS) present
 * every complete shard file as one table. Datasets: key, status and each feature dataset the
 * shards hold (cls, patch_mean, patch, head, proto_index, proto_score), rows concatenated in
 * shard name order; shard_name [S] (strings) and shard_start [S + 1] (int64, first row of each
 * shard and the total) to map a row back to its file; part_name [P] and part_start [P + 1].
 *
 * It is built in parts so that neither building nor reading needs memory or open files in
 * proportion to the shard count: DIR/index.parts/<generation>/part-NNNNNN.h5 holds the same
 * datasets over H5_INDEX_PART_SHARDS consecutive shards (and their shard_name / shard_start),
 * and index.h5's virtual datasets map the parts. A row whose file cannot be opened through the
 * index (too many open files, a shard removed) reads as the fill values: status
 * H5_INDEX_STATUS_MISSING, NaN features, proto_index H5_INDEX_PROTO_MISSING, an empty key.
 * Sources are referenced relative to the file that maps them, so the directory can be moved as
 * a whole. Every other file is left out and named with the reason: temporary, incomplete or
 * damaged (every byte is checked against the file's checksum, io/shard_sum.h), not a shard file;
 * the run's own files (run.json, .lock, shards.txt) and folders (index.parts) are not shards and
 * not reported. Shards that DIR/shards.txt lists but that have no file are reported as missing. */
#ifndef WEBSSL_IO_H5_INDEX_H
#define WEBSSL_IO_H5_INDEX_H

#include <stddef.h>
#include <stdint.h>

/* The folder of the parts inside DIR, and the shards per part: a reader that opens one part at
 * a time holds at most this many shard files open (HDF5 keeps every source a read touched open
 * until the dataset is closed). */
#define H5_INDEX_PARTS_DIR "index.parts"
enum { H5_INDEX_PART_SHARDS = 256 };

/* The fill values of rows the index cannot read: a status no image has, and a prototype index
 * that no failed image has (-1). */
enum { H5_INDEX_STATUS_MISSING = -1, H5_INDEX_PROTO_MISSING = -2 };

typedef struct {
    char *name;     /* file name inside DIR */
    char *why;      /* why it is not indexed */
} ws_index_left_out;

typedef struct {
    int64_t shards, rows, skipped;   /* files indexed, rows, files left out */
    int64_t parts;                   /* part files written */
    ws_index_left_out *left_out;     /* [skipped] the files left out, in name order */
    char **missing;                  /* [num_missing] shards named by DIR/shards.txt without a file */
    size_t num_missing;
} ws_index_info;

/* Write DIR/index.h5 (under a temporary name, then renamed) and its parts (in a new generation
 * folder; older generations are removed once index.h5 is replaced). WS_OK, or WS_ERR_IO /
 * WS_ERR_FORMAT naming the file; WS_ERR_ARG when DIR holds no complete shard or the shards
 * disagree (features, dims, dtype). `info` is filled as far as the directory was read, also on
 * failure; free it with h5_index_info_free. */
int h5_index_write(const char *dir, ws_index_info *info);
void h5_index_info_free(ws_index_info *info);

#endif
