/* HDF5 output: one file per input shard (schema in docs/output.md).
 *
 * Datasets: key [N] (variable-length UTF-8 strings: the sample keys escaped with ws_escape_bytes,
 * so file names that are not UTF-8 survive), status [N] int8, and per requested feature
 * cls [N, D], patch_mean [N, D], patch [N, P, D] (one chunk per image), head [N, K], stored as
 * f32 or as an IEEE half type that h5py reads as float16, and proto_index [N] int32 +
 * proto_score [N] float32 (always f32). Root attributes describe the model,
 * architecture, resolution, preprocessing, dtypes, program version, source shard, counts and
 * creation time, and `manifest` + `manifest_digest` (what the shard was made from, see
 * data/shard_manifest.h), the counts image_count, failure_count (status != 0) and retry_count
 * (status WS_IMG_RETRY); the attribute `complete` = 1 is written last.
 *
 * Crash safety: the file is written under a temporary name in the same directory (one that
 * never looks complete: ".<name>.tmp.<tag>", created new, never through a symbolic link:
 * io/h5_file.h), closed, sealed with the checksum of every byte (io/shard_sum.h: HDF5 user
 * block; each dataset also has HDF5's fletcher32 filter), fsync'ed, renamed onto the final name,
 * and the directory fsync'ed. Any failure leaves no file under the final name and an error
 * naming the file.
 *
 * Reproducibility: object timestamps are off and the layout depends only on the data and the
 * batch sequence, so two runs that append the same batches produce the same bytes when the
 * creation time is the same (h5_creation_time: SOURCE_DATE_EPOCH when set). */
#ifndef WEBSSL_IO_H5_WRITER_H
#define WEBSSL_IO_H5_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "common/digest.h"
#include "common/dtype.h"
#include "common/arch.h"

/* Features a run stores (bit set). */
enum {
    WS_FEAT_CLS = 1 << 0,
    WS_FEAT_PATCH_MEAN = 1 << 1,
    WS_FEAT_PATCH = 1 << 2,
    WS_FEAT_HEAD = 1 << 3,
    WS_FEAT_PROTO = 1 << 4,   /* proto_index + proto_score */
};
/* Parse "cls,patch_mean,patch,head,proto" (any subset, any order). WS_OK or WS_ERR_ARG naming the
 * unknown word and --features. */
int h5_features_parse(const char *s, unsigned *features);
/* Write the canonical comma list of `features` into buf. */
void h5_features_format(unsigned features, char *buf, size_t len);

/* What a shard file holds. */
typedef struct {
    unsigned features;     /* WS_FEAT_* */
    int D;                 /* embed dim (cls, patch_mean, patch) */
    int P;                 /* patch tokens per image (patch) */
    int K;                 /* head output size (head) */
    ws_dtype out_dtype;    /* WS_DTYPE_F16 or WS_DTYPE_F32 */
} ws_h5_layout;

/* Root attributes. Strings may be NULL (stored as ""). */
typedef struct {
    const char *model;          /* --model as given */
    const ws_arch *arch;        /* architecture fields */
    int resolution;             /* input side R */
    const ws_preprocess *preprocess;
    const char *compute_dtype;  /* "fp32" / "bf16" */
    const char *source;         /* input shard path or spec (stored escaped) */
    int64_t creation_time;      /* seconds since the epoch */
    const char *manifest;       /* the shard's manifest text (NULL: none stored) */
    const char *manifest_digest;/* its SHA-256, hex (attribute manifest_digest) */
} ws_h5_meta;

/* Seconds since the epoch for the creation_time attribute: SOURCE_DATE_EPOCH when set (for
 * reproducible files), else now. */
int64_t h5_creation_time(void);

typedef struct ws_h5_writer ws_h5_writer;

/* Start writing the shard `final_path` under `tmp_path` (same directory). Creates empty
 * extendible datasets. WS_OK or WS_ERR_IO naming the file. */
int h5_writer_open(const char *final_path, const char *tmp_path, const ws_h5_layout *layout,
                   const ws_h5_meta *meta, ws_h5_writer **out);
/* The rows of one append: keys (n strings), status (n codes, 0 ok) and each feature, row-major
 * (cls/patch_mean [n, D], patch [n, P, D], head [n, K] f32, proto_index [n] int32, proto_score
 * [n] f32); a feature not in the layout may be NULL. */
typedef struct {
    const char *const *keys;
    const int8_t *status;
    const float *cls, *patch_mean, *patch, *head;
    const int32_t *proto_index;
    const float *proto_score;
} ws_h5_rows;

/* Append n rows. WS_OK, WS_ERR_ARG when a feature of the layout is missing, or WS_ERR_IO naming
 * the file. */
int h5_writer_append(ws_h5_writer *w, int n, const ws_h5_rows *rows);
/* Write the counts and `complete`, close, fsync, rename onto the final name, fsync the
 * directory, and free w (also on failure, after removing the temporary file). */
int h5_writer_finish(ws_h5_writer *w);
/* Close, remove the temporary file and free w. NULL is allowed. */
void h5_writer_abort(ws_h5_writer *w);

/* What a finished shard file says about itself (read by h5_shard_check, attributes only). */
typedef struct {
    int64_t count;                        /* image_count */
    int64_t retry_count;                  /* retry_count: rows to read again (0 when absent) */
    int ours;                             /* program_version names webssl-dist: a file this
                                           * program wrote (complete or not) */
    char source[4096];                    /* source attribute (escaped), "" when absent */
    char manifest_digest[WS_DIGEST_HEX];  /* "" when absent */
} ws_h5_shard_info;

/* Check that `path` is a complete shard file with exactly `layout`'s datasets: it opens (never
 * through a symbolic link), `complete` is 1, every dataset has image_count rows, the expected
 * shape and type (f16/f32 as layout->out_dtype), and no feature dataset the layout lacks is
 * present. WS_OK, or WS_ERR_FORMAT / WS_ERR_IO with the reason (cannot be opened: missing, a
 * link, in use: WS_ERR_IO). `info` (may be NULL) is filled as far as the file could be read,
 * also on failure. Reads attributes and dataset headers only, never rows (its bytes are checked
 * by shard_sum_check, io/shard_sum.h). */
int h5_shard_check(const char *path, const ws_h5_layout *layout, ws_h5_shard_info *info);
/* What `webssl-dist verify` checks of a shard file, whatever run wrote it: every byte against its
 * checksum (io/shard_sum.h), then it opens as HDF5, `complete` is 1 and key, status and every
 * dataset present have image_count rows (*count). WS_OK, or WS_ERR_FORMAT / WS_ERR_IO with the
 * reason ("checksum mismatch: ...", "truncated: ...", "in use: ..."). */
int h5_shard_verify(const char *path, int64_t *count);
/* The `manifest` attribute of a shard file (malloc'ed into *text). WS_OK or WS_ERR_FORMAT. */
int h5_shard_read_manifest(const char *path, char **text);

#endif
