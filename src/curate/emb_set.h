/* Reading embedding shards for curation: the shard files of an `embed` output directory (every
 * complete DIR/<name>.h5 but index.h5, in name order) and, from each, one feature's rows widened
 * to f32, the status codes and the keys. Separate from io/h5_writer's own checks: this side only
 * reads, and reports bad input per shard or per row instead of refusing the run.
 *
 * Checks at open: every file opens, is marked complete, has the feature as [rows, D] f16 or f32
 * with one D and one type for the whole set (mixed dimensions are an error naming both files), and `status`
 * and `key` with the same row count. Empty shards (0 rows) are kept: their assignment files are
 * empty too. */
#ifndef WEBSSL_CURATE_EMB_SET_H
#define WEBSSL_CURATE_EMB_SET_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *path;        /* DIR/<name>.h5 */
    char *name;        /* <name> (file name without .h5), the key of its output files */
    int64_t rows;
    int64_t first;     /* global index of its first row (rows of the set in shard order) */
} emb_shard;

typedef struct {
    emb_shard *shards;
    int count;
    int D;             /* feature width */
    int half;          /* 1: the feature is stored as f16 (in every shard), 0: f32 */
    int64_t rows;      /* over all shards */
    char feature[32];  /* "cls" or "patch_mean" */
} emb_set;

/* Per-row status of a row read for curation (beside the embedding's own codes, which become
 * EMB_ROW_FAILED). */
enum {
    EMB_ROW_OK = 0,
    EMB_ROW_FAILED = 1,     /* the image failed in embed (status != 0): its features are zeros */
    EMB_ROW_NONFINITE = 2,  /* NaN or infinity in the features */
    EMB_ROW_ZERO = 3,       /* all zeros under the cosine metric (no direction) */
};

/* List and check DIR's shards for `feature`. WS_OK, or WS_ERR_ARG / WS_ERR_FORMAT naming the
 * directory or the file (no shard, incomplete file, missing feature, mixed dimensions). */
int emb_set_open(const char *dir, const char *feature, emb_set *set);
void emb_set_free(emb_set *set);

/* Rows [r0, r0 + n) of shard `s`: the feature widened to f32 into x[n, D] and the embedding's
 * status codes into status[n] (int8; may be NULL). f16 is read as stored and widened here:
 * HDF5's own f16 -> f32 conversion (bit by bit in software) took 80 % of an assignment pass.
 * WS_OK or WS_ERR_IO / WS_ERR_NOMEM naming the file. */
int emb_shard_read(const emb_set *set, const emb_shard *s, int64_t r0, int64_t n, float *x, int8_t *status);

/* All keys of shard `s` as n malloc'ed strings (as stored: escaped UTF-8) in *keys (free with
 * emb_keys_free). WS_OK or WS_ERR_IO. */
int emb_shard_keys(const emb_shard *s, char ***keys);
void emb_keys_free(char **keys, int64_t n);

/* The curation status of a row (EMB_ROW_*) from its embed status and values; with `normalise`
 * (cosine) the row is scaled to unit length in place. */
int emb_row_prepare(float *x, int D, int8_t embed_status, int normalise);

/* The shard holding global row g (binary search; g < set->rows). */
int emb_set_find(const emb_set *set, int64_t g);

#endif
