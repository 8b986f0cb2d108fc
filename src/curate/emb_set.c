/* Embedding shards read for curation (see emb_set.h). */
#include "curate/emb_set.h"
#include "common/error.h"
#include "common/dtype.h"
#include "io/h5_check.h"
#include "io/h5_file.h"

#include <dirent.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_shard(const void *a, const void *b) {
    return strcmp(((const emb_shard *)a)->name, ((const emb_shard *)b)->name);
}

static int64_t attr_i64(hid_t f, const char *name, int64_t fallback) {
    int64_t v = fallback;
    if (H5Aexists(f, name) > 0) {
        hid_t a = H5Aopen(f, name, H5P_DEFAULT);
        if (a >= 0 && H5Aread(a, H5T_NATIVE_INT64, &v) < 0) v = fallback;
        if (a >= 0) H5Aclose(a);
    }
    return v;
}

/* Rows (dims[0]) and width (dims[1], 0 for 1-D) of dataset `name`; -1 rows when absent or bad. */
static void ds_shape(hid_t f, const char *name, int64_t *rows, int64_t *width, int *float_bytes) {
    *rows = -1, *width = 0, *float_bytes = 0;
    if (H5Lexists(f, name, H5P_DEFAULT) <= 0) return;
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) return;
    hid_t sp = H5Dget_space(d), t = H5Dget_type(d);
    hsize_t dims[3] = {0, 0, 0};
    const int nd = H5Sget_simple_extent_ndims(sp);
    if (nd >= 1 && nd <= 2 && H5Sget_simple_extent_dims(sp, dims, NULL) >= 0) {
        *rows = (int64_t)dims[0];
        *width = nd == 2 ? (int64_t)dims[1] : 0;
    }
    /* f16 is read as stored (emb_shard_read): little-endian only, as embed and h5py write it */
    if (H5Tget_class(t) == H5T_FLOAT && (H5Tget_size(t) == 4 || H5Tget_order(t) == H5T_ORDER_LE))
        *float_bytes = (int)H5Tget_size(t);
    H5Tclose(t), H5Sclose(sp), H5Dclose(d);
}

/* Check one shard file and fill its row count; D is set by the first shard (*D == 0). */
static int inspect(const char *path, const char *feature, emb_shard *s, int *D, int *half, const char **first_path) {
    hid_t f;
    int rc = h5_file_open(path, &f);
    if (rc) return rc;
    int64_t rows, width, srows, sw, krows, kw;
    int fb, sfb, kfb;
    ds_shape(f, feature, &rows, &width, &fb);
    ds_shape(f, "status", &srows, &sw, &sfb);
    ds_shape(f, "key", &krows, &kw, &kfb);
    if (attr_i64(f, "complete", 0) != 1)
        rc = ws_errorf(WS_ERR_FORMAT, "%s: not marked complete (an unfinished embed shard)", path);
    else if (rows < 0 || width <= 0 || (fb != 2 && fb != 4))
        rc = ws_errorf(WS_ERR_FORMAT, "%s: no dataset '%s' of shape [rows, D] in f16 or f32 (embed with "
                       "--features %s)", path, feature, feature);
    else if (srows != rows || krows != rows)
        rc = ws_errorf(WS_ERR_FORMAT, "%s: '%s' has %lld rows but 'status' %lld and 'key' %lld", path, feature,
                       (long long)rows, (long long)srows, (long long)krows);
    else if (*D && width != *D)
        rc = ws_errorf(WS_ERR_FORMAT, "%s: '%s' has dimension %lld but %s has %d (mixed dimensions in one set)",
                       path, feature, (long long)width, *first_path, *D);
    else if (*D && (fb == 2) != *half)
        rc = ws_errorf(WS_ERR_FORMAT, "%s: '%s' is %s but %s has %s (mixed types in one set)", path, feature,
                       fb == 2 ? "f16" : "f32", *first_path, *half ? "f16" : "f32");
    H5Fclose(f);
    if (rc) return rc;
    if (!*D) *D = (int)width, *half = fb == 2, *first_path = path;
    s->rows = rows;
    return WS_OK;
}

static int is_shard_file(const char *n) {
    const size_t len = strlen(n);
    return len > 3 && n[0] != '.' && !strcmp(n + len - 3, ".h5") && strcmp(n, "index.h5") != 0;
}

int emb_set_open(const char *dir, const char *feature, emb_set *set) {
    memset(set, 0, sizeof *set);
    h5_lib_init();
    if (strlen(feature) >= sizeof set->feature) return ws_errorf(WS_ERR_ARG, "feature name '%s' too long", feature);
    strcpy(set->feature, feature);
    DIR *d = opendir(dir);
    if (!d) return ws_errorf(WS_ERR_IO, "%s: cannot open the embeddings directory", dir);
    int cap = 0, rc = WS_OK;
    for (struct dirent *e; rc == WS_OK && (e = readdir(d));) {
        if (!is_shard_file(e->d_name)) continue;
        if (set->count == cap) {
            cap = cap ? 2 * cap : 64;
            emb_shard *n = realloc(set->shards, (size_t)cap * sizeof *n);
            if (!n) { rc = ws_errorf(WS_ERR_NOMEM, "out of memory listing %s", dir); break; }
            set->shards = n;
        }
        emb_shard *s = &set->shards[set->count];
        memset(s, 0, sizeof *s);
        const size_t len = strlen(e->d_name);
        s->name = strndup(e->d_name, len - 3);
        s->path = malloc(strlen(dir) + len + 2);
        if (!s->name || !s->path) { free(s->name), free(s->path); rc = ws_errorf(WS_ERR_NOMEM, "out of memory"); break; }
        sprintf(s->path, "%s/%s", dir, e->d_name);
        set->count++;
    }
    closedir(d);
    if (rc == WS_OK && set->count == 0)
        rc = ws_errorf(WS_ERR_ARG, "%s: no embedding shard files (*.h5)", dir);
    if (rc == WS_OK) qsort(set->shards, (size_t)set->count, sizeof *set->shards, cmp_shard);
    const char *first_path = NULL;
    for (int i = 0; rc == WS_OK && i < set->count; i++) {
        rc = inspect(set->shards[i].path, feature, &set->shards[i], &set->D, &set->half, &first_path);
        set->shards[i].first = set->rows;
        set->rows += set->shards[i].rows;
    }
    if (rc) emb_set_free(set);
    return rc;
}

void emb_set_free(emb_set *set) {
    for (int i = 0; i < set->count; i++) free(set->shards[i].path), free(set->shards[i].name);
    free(set->shards);
    memset(set, 0, sizeof *set);
}

/* Read rows [r0, r0+n) of dataset `name` (1-D or [rows, width]) as `mem` type into buf (mem < 0:
 * as stored). */
static int read_rows(const char *path, hid_t f, const char *name, hid_t mem, int64_t r0, int64_t n, void *buf) {
    int rc = WS_OK;
    hid_t d = -1, fs = -1, ms = -1, own = -1;
    hsize_t dims[2] = {0, 0};
    H5_TRY(rc, d = H5Dopen2(f, name, H5P_DEFAULT));
    if (mem < 0) H5_TRY(rc, mem = own = H5Dget_type(d));
    H5_TRY(rc, fs = H5Dget_space(d));
    H5_TRY(rc, H5Sget_simple_extent_dims(fs, dims, NULL));
    const int nd = rc == WS_OK ? H5Sget_simple_extent_ndims(fs) : 1;
    hsize_t start[2] = {(hsize_t)r0, 0}, count[2] = {(hsize_t)n, dims[1]};
    H5_TRY(rc, H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL));
    H5_TRY(rc, ms = H5Screate_simple(nd, count, NULL));
    H5_TRY(rc, H5Dread(d, mem, ms, fs, H5P_DEFAULT, buf));
    if (ms >= 0) H5Sclose(ms);
    if (fs >= 0) H5Sclose(fs);
    if (own >= 0) H5Tclose(own);
    if (d >= 0) H5Dclose(d);
    return rc ? ws_error_context(rc, "%s: reading '%s' rows %lld..%lld", path, name, (long long)r0,
                                 (long long)(r0 + n)) : WS_OK;
}

int emb_shard_read(const emb_set *set, const emb_shard *s, int64_t r0, int64_t n, float *x, int8_t *status) {
    if (n <= 0) return WS_OK;
    hid_t f;
    int rc = h5_file_open(s->path, &f);
    if (rc) return rc;
    if (set->half) {
        const size_t count = (size_t)n * set->D;
        uint16_t *h = malloc(count * sizeof *h);
        /* memory type -1: the file's own (little-endian IEEE half, checked at open), no conversion */
        rc = h ? read_rows(s->path, f, set->feature, -1, r0, n, h) : ws_errorf(WS_ERR_NOMEM, "out of memory");
        if (rc == WS_OK) ws_convert_to_f32(x, h, WS_DTYPE_F16, count);
        free(h);
    } else {
        rc = read_rows(s->path, f, set->feature, H5T_NATIVE_FLOAT, r0, n, x);
    }
    if (rc == WS_OK && status) rc = read_rows(s->path, f, "status", H5T_NATIVE_INT8, r0, n, status);
    H5Fclose(f);
    return rc;
}

int emb_shard_keys(const emb_shard *s, char ***keys) {
    *keys = calloc((size_t)(s->rows ? s->rows : 1), sizeof **keys);
    if (!*keys) return ws_errorf(WS_ERR_NOMEM, "out of memory for the keys of %s", s->path);
    if (!s->rows) return WS_OK;
    hid_t f;
    int rc = h5_file_open(s->path, &f);
    if (rc) {
        free(*keys);
        *keys = NULL;
        return rc;
    }
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    rc = read_rows(s->path, f, "key", t, 0, s->rows, *keys);
    H5Tclose(t);
    H5Fclose(f);
    if (rc) {
        free(*keys);
        *keys = NULL;
    }
    return rc;
}

void emb_keys_free(char **keys, int64_t n) {
    /* HDF5 allocated the strings with the C library's malloc (default properties). */
    for (int64_t i = 0; keys && i < n; i++) free(keys[i]);
    free(keys);
}

int emb_row_prepare(float *x, int D, int8_t embed_status, int normalise) {
    if (embed_status != 0) return EMB_ROW_FAILED;
    double ss = 0.0;
    for (int d = 0; d < D; d++) {
        if (!isfinite(x[d])) return EMB_ROW_NONFINITE;
        ss += (double)x[d] * x[d];
    }
    if (!isfinite(ss)) return EMB_ROW_NONFINITE;
    if (!normalise) return EMB_ROW_OK;
    if (ss == 0.0) return EMB_ROW_ZERO;
    const float inv = (float)(1.0 / sqrt(ss));
    for (int d = 0; d < D; d++) x[d] *= inv;
    return EMB_ROW_OK;
}

/* The last shard whose first row is <= g: empty shards share their first row with the next one. */
int emb_set_find(const emb_set *set, int64_t g) {
    int lo = 0, hi = set->count - 1;
    while (lo < hi) {
        const int mid = (lo + hi + 1) / 2;
        if (set->shards[mid].first <= g) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}
