/* `webssl-dist export`: one consolidated HDF5 file from the shard files of a finished output
 * directory, for readers that want one table rather than the index's virtual datasets.
 *
 * Rows are those of the index (io/h5_index.h): the shard files in name order, concatenated; a
 * range [first, last) of them may be exported alone (per-range files). The file holds key,
 * status and the chosen feature datasets (every one the shards hold by default), chunked and
 * compressed (shuffle + deflate; f16 stays f16), plus shard_name [K], shard_start [K + 1] (first
 * row of each shard in this file, then the total) and shard_offset [K] (the shard's first row
 * exported: non-zero only for the first shard of a range), and root attributes: the first
 * shard's description of the model and preprocessing (its per-shard attributes left out),
 * exported_from, row_start and row_count.
 *
 * Every shard whose rows are exported is checked byte for byte first (h5_shard_verify); a shard
 * that fails is named and nothing is written. Shards before the range are only counted: they
 * must be complete (`complete` = 1, image_count rows). One shard file is open at a time, and
 * rows are copied in blocks, so memory and open files stay bounded whatever the directory's
 * size. The file is written under FILE.tmp.<pid> and moved onto FILE at the end; an existing
 * FILE is kept unless `overwrite`. */
#ifndef WEBSSL_IO_H5_EXPORT_H
#define WEBSSL_IO_H5_EXPORT_H

#include <stdint.h>

typedef struct {
    const char *dir;       /* an embed --output directory */
    const char *output;    /* FILE.h5 (not inside dir) */
    int64_t first, last;   /* rows [first, last) in index order; last < 0: to the end */
    const char *datasets;  /* comma list among cls, patch_mean, patch, head, proto_index,
                            * proto_score (proto: both); NULL: every one the shards hold */
    int overwrite;         /* 1: replace an existing FILE */
    int level;             /* deflate level 0-9 */
} ws_export_options;

typedef struct {
    int64_t shards;   /* shard files with rows in the export */
    int64_t rows;     /* rows written */
    int64_t bad;      /* shard files refused (each reported) */
} ws_export_info;

/* Write o->output. report(message, ctx) is called for each shard file that fails verification
 * (the message names it). WS_OK; WS_ERR_FORMAT when a shard was refused (nothing written);
 * WS_ERR_ARG for a bad range or dataset name, an existing output without overwrite, shards that
 * disagree; WS_ERR_IO / WS_ERR_NOSPACE naming the file otherwise. */
int h5_export(const ws_export_options *o, void (*report)(const char *msg, void *ctx), void *ctx,
              ws_export_info *info);

#endif
