/* HDF5 shard writer (see h5_writer.h). */
#include "io/h5_writer.h"
#include "common/error.h"
#include "io/h5_check.h"
#include "common/escape.h"
#include "io/h5_file.h"
#include "io/shard_sum.h"
#include "data/image_status.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { DS_KEY, DS_STATUS, DS_CLS, DS_PATCH_MEAN, DS_PATCH, DS_HEAD, DS_PROTO_INDEX, DS_PROTO_SCORE, DS_COUNT };
static const char *const ds_names[DS_COUNT] = {"key", "status", "cls", "patch_mean", "patch", "head",
                                               "proto_index", "proto_score"};
static const unsigned ds_feature[DS_COUNT] = {0, 0, WS_FEAT_CLS, WS_FEAT_PATCH_MEAN, WS_FEAT_PATCH, WS_FEAT_HEAD,
                                              WS_FEAT_PROTO, WS_FEAT_PROTO};
/* --features words, bit i = 1 << i */
static const char *const feature_names[] = {"cls", "patch_mean", "patch", "head", "proto"};
#define NUM_FEATURES 5
#define ROWS_PER_CHUNK 256

struct ws_h5_writer {
    char *final_path, *tmp_path;
    ws_h5_layout layout;
    hid_t file, f16, str;
    int fd;              /* the temporary file, read-write (h5_file_create), or -1 */
    hid_t ds[DS_COUNT];
    int64_t n, failures, retries;   /* rows; rows with status != 0; with status WS_IMG_RETRY */
    uint16_t *half;      /* f16 conversion buffer */
    size_t half_len;
};

int h5_features_parse(const char *s, unsigned *features) {
    unsigned f = 0;
    const char *p = s;
    while (*p) {
        size_t len = strcspn(p, ",");
        size_t i;
        for (i = 0; i < NUM_FEATURES; i++)
            if (strlen(feature_names[i]) == len && !strncmp(p, feature_names[i], len)) break;
        if (i == NUM_FEATURES)
            return ws_errorf(WS_ERR_ARG, "--features: unknown feature '%.*s' (choose from cls, patch_mean, patch, head, proto)",
                             (int)len, p);
        f |= 1u << i;
        p += len + (p[len] == ',');
    }
    if (!f) return ws_errorf(WS_ERR_ARG, "--features: empty list");
    *features = f;
    return WS_OK;
}

void h5_features_format(unsigned features, char *buf, size_t len) {
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < NUM_FEATURES; i++)
        if (features & (1u << i))
            used += (size_t)snprintf(buf + used, used < len ? len - used : 0, "%s%s", used ? "," : "",
                                     feature_names[i]);
}

int64_t h5_creation_time(void) {
    const char *s = getenv("SOURCE_DATE_EPOCH");
    if (s && *s) {
        char *end;
        long long v = strtoll(s, &end, 10);
        if (*end == '\0' && v >= 0) return v;
    }
    return (int64_t)time(NULL);
}

/* An IEEE binary16 type built the way h5py builds it, so h5py reads it as float16. */
static int make_f16_type(hid_t *out) {
    int rc = WS_OK;
    hid_t t = -1;
    H5_TRY(rc, t = H5Tcopy(H5T_IEEE_F32LE));
    H5_TRY(rc, H5Tset_fields(t, 15, 10, 5, 0, 10));
    H5_TRY(rc, H5Tset_size(t, 2));
    H5_TRY(rc, H5Tset_ebias(t, 15));
    if (rc != WS_OK && t >= 0) H5Tclose(t);
    *out = rc == WS_OK ? t : -1;
    return rc;
}

static int make_str_type(hid_t *out) {
    int rc = WS_OK;
    hid_t t = -1;
    H5_TRY(rc, t = H5Tcopy(H5T_C_S1));
    H5_TRY(rc, H5Tset_size(t, H5T_VARIABLE));
    H5_TRY(rc, H5Tset_cset(t, H5T_CSET_UTF8));
    if (rc != WS_OK && t >= 0) H5Tclose(t);
    *out = rc == WS_OK ? t : -1;
    return rc;
}

static int attr_write(hid_t loc, const char *name, hid_t type, int rank, hsize_t n, const void *v) {
    int rc = WS_OK;
    hid_t sp = -1, a = -1;
    H5_TRY(rc, sp = rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, NULL));
    H5_TRY(rc, a = H5Acreate2(loc, name, type, sp, H5P_DEFAULT, H5P_DEFAULT));
    H5_TRY(rc, H5Awrite(a, type, v));
    if (a >= 0) H5Aclose(a);
    if (sp >= 0) H5Sclose(sp);
    return rc == WS_OK ? WS_OK : ws_error_context(rc, "attribute %s", name);
}

static int attr_i64(hid_t loc, const char *name, int64_t v) {
    return attr_write(loc, name, H5T_NATIVE_INT64, 0, 1, &v);
}

static int attr_str(hid_t loc, hid_t str, const char *name, const char *v) {
    const char *s = v ? v : "";
    return attr_write(loc, name, str, 0, 1, &s);
}

static int write_meta(ws_h5_writer *w, const ws_h5_meta *m) {
    hid_t f = w->file, s = w->str;
    const ws_arch *a = m->arch;
    const ws_preprocess *p = m->preprocess;
    char feats[64];
    h5_features_format(w->layout.features, feats, sizeof feats);
    char *source = ws_escape_bytes(m->source ? m->source : "");
    int rc = source ? WS_OK : ws_errorf(WS_ERR_NOMEM, "out of memory");
    if (rc == WS_OK) rc = attr_str(f, s, "model", m->model);
    if (rc == WS_OK) rc = attr_str(f, s, "arch", a->name);
    if (rc == WS_OK) rc = attr_str(f, s, "family", arch_family_name(a->family));
    if (rc == WS_OK) rc = attr_i64(f, "embed_dim", a->embed_dim);
    if (rc == WS_OK) rc = attr_i64(f, "depth", a->depth);
    if (rc == WS_OK) rc = attr_i64(f, "num_heads", a->num_heads);
    if (rc == WS_OK) rc = attr_i64(f, "patch_size", a->patch_size);
    if (rc == WS_OK) rc = attr_str(f, s, "ffn", arch_ffn_name(a->ffn));
    if (rc == WS_OK) rc = attr_i64(f, "ffn_hidden", a->ffn_hidden);
    if (rc == WS_OK) rc = attr_i64(f, "img_size", a->img_size);
    if (rc == WS_OK) rc = attr_i64(f, "resolution", m->resolution);
    if (rc == WS_OK) rc = attr_str(f, s, "preprocess", p->mode == WS_PREPROCESS_CROP ? "crop" : "square");
    if (rc == WS_OK) rc = attr_i64(f, "resize", p->resize);
    if (rc == WS_OK) rc = attr_i64(f, "crop", p->crop);
    if (rc == WS_OK) rc = attr_write(f, "mean", H5T_NATIVE_FLOAT, 1, 3, p->mean);
    if (rc == WS_OK) rc = attr_write(f, "std", H5T_NATIVE_FLOAT, 1, 3, p->std);
    if (rc == WS_OK) rc = attr_str(f, s, "compute_dtype", m->compute_dtype);
    if (rc == WS_OK) rc = attr_str(f, s, "out_dtype", w->layout.out_dtype == WS_DTYPE_F16 ? "f16" : "f32");
    if (rc == WS_OK) rc = attr_str(f, s, "features", feats);
    if (rc == WS_OK) rc = attr_str(f, s, "program_version", "webssl-dist " WEBSSL_VERSION);
    if (rc == WS_OK) rc = attr_str(f, s, "source", source);
    if (rc == WS_OK) rc = attr_i64(f, "creation_time", m->creation_time);
    if (rc == WS_OK && m->manifest) rc = attr_str(f, s, "manifest", m->manifest);
    if (rc == WS_OK && m->manifest) rc = attr_str(f, s, "manifest_digest", m->manifest_digest);
    free(source);
    return rc == WS_OK ? WS_OK : ws_error_context(rc, "root attributes");
}

/* An empty extendible dataset of `rank` dims whose trailing dims are d1, d2, into *out. */
static int create_ds(hid_t file, const char *name, hid_t type, int rank, hsize_t d1, hsize_t d2, hid_t *out) {
    hsize_t dims[3] = {0, d1, d2}, maxd[3] = {H5S_UNLIMITED, d1, d2};
    hsize_t chunk[3] = {rank == 3 ? 1 : ROWS_PER_CHUNK, d1, d2};
    int rc = WS_OK;
    hid_t sp = -1, dcpl = -1;
    H5_TRY(rc, sp = H5Screate_simple(rank, dims, maxd));
    H5_TRY(rc, dcpl = H5Pcreate(H5P_DATASET_CREATE));
    H5_TRY(rc, H5Pset_chunk(dcpl, rank, chunk));
    /* checked by HDF5 on every read of a chunk (shard_sum.h); HDF5 allows no filter on the
     * variable-length keys, whose strings live in the global heap anyway */
    if (H5Tis_variable_str(type) <= 0) H5_TRY(rc, H5Pset_fletcher32(dcpl));
    H5_TRY(rc, H5Pset_obj_track_times(dcpl, 0));
    H5_TRY(rc, *out = H5Dcreate2(file, name, type, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT));
    if (dcpl >= 0) H5Pclose(dcpl);
    if (sp >= 0) H5Sclose(sp);
    return rc == WS_OK ? WS_OK : ws_error_context(rc, "dataset %s", name);
}

static void writer_close_handles(ws_h5_writer *w) {
    for (int i = 0; i < DS_COUNT; i++)
        if (w->ds[i] >= 0) H5Dclose(w->ds[i]);
    if (w->f16 >= 0) H5Tclose(w->f16);
    if (w->str >= 0) H5Tclose(w->str);
    for (int i = 0; i < DS_COUNT; i++) w->ds[i] = -1;
    w->f16 = w->str = -1;
}

static void writer_free(ws_h5_writer *w) {
    free(w->final_path);
    free(w->tmp_path);
    free(w->half);
    free(w);
}

void h5_writer_abort(ws_h5_writer *w) {
    if (!w) return;
    writer_close_handles(w);
    if (w->file >= 0) H5Fclose(w->file);
    if (w->fd >= 0) close(w->fd);
    unlink(w->tmp_path);
    writer_free(w);
}

static int io_error(const char *what, const char *path) {
    return ws_errorf(ws_err_from_errno(errno), "%s %s%s%s", what, path, errno ? ": " : "", errno ? strerror(errno) : "");
}

int h5_writer_open(const char *final_path, const char *tmp_path, const ws_h5_layout *layout,
                   const ws_h5_meta *meta, ws_h5_writer **out) {
    *out = NULL;
    h5_lib_init();
    ws_h5_writer *w = calloc(1, sizeof *w);
    if (!w) return ws_errorf(WS_ERR_NOMEM, "writer for %s", final_path);
    w->file = w->f16 = w->str = -1;
    w->fd = -1;
    for (int i = 0; i < DS_COUNT; i++) w->ds[i] = -1;
    w->layout = *layout;
    w->final_path = strdup(final_path);
    w->tmp_path = strdup(tmp_path);
    if (!w->final_path || !w->tmp_path) {
        writer_free(w);
        return ws_errorf(WS_ERR_NOMEM, "writer for %s", final_path);
    }
    int rc = WS_OK;
    hid_t fcpl = -1, fapl = -1;
    H5_TRY(rc, fcpl = H5Pcreate(H5P_FILE_CREATE));
    H5_TRY(rc, fapl = H5Pcreate(H5P_FILE_ACCESS));
    H5_TRY(rc, H5Pset_obj_track_times(fcpl, 0));
    H5_TRY(rc, H5Pset_userblock(fcpl, SHARD_SUM_BLOCK));   /* room for the checksum */
    H5_TRY(rc, H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18));
    if (rc == WS_OK) rc = h5_file_create(tmp_path, fcpl, fapl, &w->file, &w->fd);
    if (fcpl >= 0) H5Pclose(fcpl);
    if (fapl >= 0) H5Pclose(fapl);
    if (rc != WS_OK) {
        writer_free(w);
        return rc;
    }
    hsize_t D = (hsize_t)layout->D, P = (hsize_t)layout->P, K = (hsize_t)layout->K;
    const unsigned feat = layout->features;
    rc = make_f16_type(&w->f16);
    if (rc == WS_OK) rc = make_str_type(&w->str);
    hid_t ft = layout->out_dtype == WS_DTYPE_F16 ? w->f16 : H5T_IEEE_F32LE;
    if (rc == WS_OK) rc = create_ds(w->file, "key", w->str, 1, 0, 0, &w->ds[DS_KEY]);
    if (rc == WS_OK) rc = create_ds(w->file, "status", H5T_STD_I8LE, 1, 0, 0, &w->ds[DS_STATUS]);
    if (rc == WS_OK && (feat & WS_FEAT_CLS)) rc = create_ds(w->file, "cls", ft, 2, D, 0, &w->ds[DS_CLS]);
    if (rc == WS_OK && (feat & WS_FEAT_PATCH_MEAN))
        rc = create_ds(w->file, "patch_mean", ft, 2, D, 0, &w->ds[DS_PATCH_MEAN]);
    if (rc == WS_OK && (feat & WS_FEAT_PATCH)) rc = create_ds(w->file, "patch", ft, 3, P, D, &w->ds[DS_PATCH]);
    if (rc == WS_OK && (feat & WS_FEAT_HEAD)) rc = create_ds(w->file, "head", ft, 2, K, 0, &w->ds[DS_HEAD]);
    if (rc == WS_OK && (feat & WS_FEAT_PROTO))
        rc = create_ds(w->file, "proto_index", H5T_STD_I32LE, 1, 0, 0, &w->ds[DS_PROTO_INDEX]);
    if (rc == WS_OK && (feat & WS_FEAT_PROTO))
        rc = create_ds(w->file, "proto_score", H5T_IEEE_F32LE, 1, 0, 0, &w->ds[DS_PROTO_SCORE]);
    if (rc == WS_OK) rc = write_meta(w, meta);
    if (rc != WS_OK) {
        rc = ws_error_context(rc, "creating %s", tmp_path);
        h5_writer_abort(w);
        return rc;
    }
    *out = w;
    return WS_OK;
}

/* Write rows [w->n, w->n + n) of dataset i from `buf` in memory type `mt`. */
static int append_rows(ws_h5_writer *w, int i, hid_t mt, int n, const void *buf) {
    hid_t ds = w->ds[i], fs = -1, ms = -1;
    hsize_t dims[3] = {0, 0, 0}, start[3] = {(hsize_t)w->n, 0, 0}, count[3];
    int rc = WS_OK, rank = 0;
    H5_TRY(rc, fs = H5Dget_space(ds));
    H5_TRY(rc, rank = H5Sget_simple_extent_ndims(fs));
    H5_TRY(rc, H5Sget_simple_extent_dims(fs, dims, NULL));
    if (fs >= 0) H5Sclose(fs);
    fs = -1;
    dims[0] = (hsize_t)(w->n + n);
    H5_TRY(rc, H5Dset_extent(ds, dims));
    H5_TRY(rc, fs = H5Dget_space(ds));
    count[0] = (hsize_t)n;
    count[1] = dims[1];
    count[2] = dims[2];
    H5_TRY(rc, ms = H5Screate_simple(rank, count, NULL));
    H5_TRY(rc, H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL));
    H5_TRY(rc, H5Dwrite(ds, mt, ms, fs, H5P_DEFAULT, buf));
    if (ms >= 0) H5Sclose(ms);
    if (fs >= 0) H5Sclose(fs);
    return rc == WS_OK ? WS_OK : ws_error_context(rc, "dataset %s", ds_names[i]);
}

static int append_floats(ws_h5_writer *w, int i, int n, size_t row, const float *x) {
    if (w->layout.out_dtype == WS_DTYPE_F32) return append_rows(w, i, H5T_NATIVE_FLOAT, n, x);
    size_t count = (size_t)n * row;
    if (w->half_len < count) {
        uint16_t *p = realloc(w->half, count * sizeof *p);
        if (!p) return ws_errorf(WS_ERR_NOMEM, "out of memory for %zu half floats", count);
        w->half = p;
        w->half_len = count;
    }
    ws_convert_from_f32(w->half, WS_DTYPE_F16, x, count);
    return append_rows(w, i, w->f16, n, w->half);
}

int h5_writer_append(ws_h5_writer *w, int n, const ws_h5_rows *r) {
    if (n <= 0) return WS_OK;
    const ws_h5_layout *L = &w->layout;
    const void *feat[DS_COUNT] = {r->keys, r->status, r->cls, r->patch_mean, r->patch, r->head, r->proto_index,
                                  r->proto_score};
    size_t row[DS_COUNT] = {0, 0, (size_t)L->D, (size_t)L->D, (size_t)L->P * (size_t)L->D, (size_t)L->K, 1, 1};
    for (int i = 0; i < DS_COUNT; i++)
        if ((i < DS_CLS || (L->features & ds_feature[i])) && !feat[i])
            return ws_errorf(WS_ERR_ARG, "%s: no %s rows given", w->tmp_path, ds_names[i]);
    char **keys = calloc((size_t)n, sizeof *keys);
    int rc = keys ? WS_OK : ws_errorf(WS_ERR_NOMEM, "out of memory for %d keys", n);
    for (int j = 0; j < n && rc == WS_OK; j++)
        if (!(keys[j] = ws_escape_bytes(r->keys[j] ? r->keys[j] : ""))) rc = ws_errorf(WS_ERR_NOMEM, "out of memory");
    if (rc == WS_OK) rc = append_rows(w, DS_KEY, w->str, n, keys);
    if (rc == WS_OK) rc = append_rows(w, DS_STATUS, H5T_NATIVE_INT8, n, r->status);
    for (int j = 0; keys && j < n; j++) free(keys[j]);
    free(keys);
    for (int i = DS_CLS; i < DS_COUNT && rc == WS_OK; i++) {
        if (!(L->features & ds_feature[i])) continue;
        if (i == DS_PROTO_INDEX) rc = append_rows(w, i, H5T_NATIVE_INT32, n, r->proto_index);
        else if (i == DS_PROTO_SCORE) rc = append_rows(w, i, H5T_NATIVE_FLOAT, n, r->proto_score);
        else rc = append_floats(w, i, n, row[i], feat[i]);
    }
    if (rc != WS_OK) return ws_error_context(rc, "writing to %s", w->tmp_path);
    for (int j = 0; j < n; j++) {
        w->failures += r->status[j] != 0;
        w->retries += r->status[j] == WS_IMG_RETRY;
    }
    w->n += n;
    return WS_OK;
}

int h5_writer_finish(ws_h5_writer *w) {
    int rc = attr_i64(w->file, "image_count", w->n);
    if (rc == WS_OK) rc = attr_i64(w->file, "failure_count", w->failures);
    if (rc == WS_OK) rc = attr_i64(w->file, "retry_count", w->retries);
    if (rc == WS_OK) rc = attr_i64(w->file, "complete", 1);
    writer_close_handles(w);
    if (rc == WS_OK) H5_TRY(rc, H5Fclose(w->file));
    else H5Fclose(w->file);
    w->file = -1;
    if (rc != WS_OK) {
        rc = ws_error_context(rc, "finishing %s", w->tmp_path);
        h5_writer_abort(w);
        return rc;
    }
    rc = shard_sum_seal(w->fd, w->tmp_path);   /* HDF5 has closed the file: every byte is final */
    if (close(w->fd) != 0 && rc == WS_OK) rc = io_error("close", w->tmp_path);
    w->fd = -1;
    if (rc != WS_OK) {
        h5_writer_abort(w);
        return rc;
    }
    if (rename(w->tmp_path, w->final_path) != 0) {
        rc = ws_errorf(ws_err_from_errno(errno), "rename %s -> %s: %s", w->tmp_path, w->final_path, strerror(errno));
        h5_writer_abort(w);
        return rc;
    }
    char *dir = strdup(w->final_path);
    int dfd = dir ? open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (dfd >= 0) fsync(dfd), close(dfd);  /* best effort: not all filesystems allow it */
    free(dir);
    writer_free(w);
    return WS_OK;
}

static int read_i64_attr(hid_t loc, const char *name, int64_t *v) {
    if (H5Aexists(loc, name) <= 0) return -1;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0) return -1;
    herr_t rc = H5Aread(a, H5T_NATIVE_INT64, v);
    H5Aclose(a);
    return rc < 0 ? -1 : 0;
}

/* A string attribute as a malloc'ed copy; NULL when absent or not a string. */
static char *read_str_attr_dup(hid_t loc, const char *name) {
    if (H5Aexists(loc, name) <= 0) return NULL;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT), t;
    char *v = NULL, *copy = NULL;
    if (make_str_type(&t) == WS_OK && a >= 0 && H5Aread(a, t, &v) >= 0 && v) copy = strdup(v);
    if (v) H5free_memory(v);
    if (t >= 0) H5Tclose(t);
    if (a >= 0) H5Aclose(a);
    return copy;
}

static int read_str_attr(hid_t loc, const char *name, char *buf, size_t len) {
    char *v = read_str_attr_dup(loc, name);
    snprintf(buf, len, "%s", v ? v : "");
    free(v);
    return v ? 0 : -1;
}

/* 1 when dataset i has the type this layout writes. */
static int type_matches(hid_t ds, int i, const ws_h5_layout *layout) {
    hid_t t = H5Dget_type(ds);
    if (t < 0) return 0;
    H5T_class_t c = H5Tget_class(t);
    size_t size = H5Tget_size(t);
    int vlen = c == H5T_STRING && H5Tis_variable_str(t) > 0;
    H5Tclose(t);
    switch (i) {
    case DS_KEY: return vlen;
    case DS_STATUS: return c == H5T_INTEGER && size == 1;
    case DS_PROTO_INDEX: return c == H5T_INTEGER && size == 4;
    case DS_PROTO_SCORE: return c == H5T_FLOAT && size == 4;
    default: return c == H5T_FLOAT && size == (layout->out_dtype == WS_DTYPE_F16 ? 2u : 4u);
    }
}

int h5_shard_check(const char *path, const ws_h5_layout *layout, ws_h5_shard_info *info) {
    h5_lib_init();
    ws_h5_shard_info local;
    if (!info) info = &local;
    memset(info, 0, sizeof *info);
    hid_t f = -1;
    int orc = h5_file_open(path, &f);
    if (orc != WS_OK) return orc;
    char version[128];
    info->ours = read_str_attr(f, "program_version", version, sizeof version) == 0 &&
                 !strncmp(version, "webssl-dist", 11);
    read_str_attr(f, "source", info->source, sizeof info->source);
    read_str_attr(f, "manifest_digest", info->manifest_digest, sizeof info->manifest_digest);
    int64_t complete = 0, n = -1;
    int rc = WS_OK;
    if (read_i64_attr(f, "retry_count", &info->retry_count) != 0) info->retry_count = 0;   /* older files */
    if (read_i64_attr(f, "complete", &complete) != 0 || complete != 1 || read_i64_attr(f, "image_count", &n) != 0)
        rc = ws_errorf(WS_ERR_FORMAT, "%s: not marked complete", path);
    hsize_t want[DS_COUNT][3] = {{0}, {0}, {0, (hsize_t)layout->D}, {0, (hsize_t)layout->D},
                                 {0, (hsize_t)layout->P, (hsize_t)layout->D}, {0, (hsize_t)layout->K}, {0}, {0}};
    int want_rank[DS_COUNT] = {1, 1, 2, 2, 3, 2, 1, 1};
    for (int i = 0; i < DS_COUNT && rc == WS_OK; i++) {
        if (i >= DS_CLS && !(layout->features & ds_feature[i])) {
            if (H5Lexists(f, ds_names[i], H5P_DEFAULT) > 0)
                rc = ws_errorf(WS_ERR_FORMAT, "%s: holds dataset %s, which this run does not write", path,
                               ds_names[i]);
            continue;
        }
        hid_t ds = H5Lexists(f, ds_names[i], H5P_DEFAULT) > 0 ? H5Dopen2(f, ds_names[i], H5P_DEFAULT) : -1;
        hid_t sp = ds >= 0 ? H5Dget_space(ds) : -1;
        hsize_t dims[3] = {0, 0, 0};
        int rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
        if (rank == want_rank[i]) H5Sget_simple_extent_dims(sp, dims, NULL);
        int typed = ds >= 0 && type_matches(ds, i, layout);
        if (sp >= 0) H5Sclose(sp);
        if (ds >= 0) H5Dclose(ds);
        want[i][0] = (hsize_t)n;
        if (rank != want_rank[i] || memcmp(dims, want[i], sizeof dims) != 0)
            rc = ws_errorf(WS_ERR_FORMAT, "%s: dataset %s missing or not %lld rows of the expected shape",
                           path, ds_names[i], (long long)n);
        else if (!typed)
            rc = ws_errorf(WS_ERR_FORMAT, "%s: dataset %s is not of this run's type (%s)", path, ds_names[i],
                           i >= DS_CLS && i <= DS_HEAD ? ws_dtype_name(layout->out_dtype) : "as written by this program");
    }
    if (H5Fclose(f) < 0 && rc == WS_OK) rc = ws_errorf(WS_ERR_FORMAT, "%s: close failed", path);
    if (rc == WS_OK) info->count = n;
    return rc;
}

int h5_shard_read_manifest(const char *path, char **text) {
    hid_t f = -1;
    *text = h5_file_open(path, &f) == WS_OK ? read_str_attr_dup(f, "manifest") : NULL;
    if (f >= 0) H5Fclose(f);
    return *text ? WS_OK : ws_errorf(WS_ERR_FORMAT, "%s: no readable manifest", path);
}

int h5_shard_verify(const char *path, int64_t *count) {
    char why[512];
    shard_state state = shard_sum_check(path, why, sizeof why);
    if (state != SHARD_OK) return ws_errorf(WS_ERR_FORMAT, "%s: %s", path, why);
    hid_t f = -1;
    int rc = h5_file_open(path, &f);
    if (rc != WS_OK) return rc;
    int64_t complete = 0, n = -1;
    if (read_i64_attr(f, "complete", &complete) != 0 || complete != 1 || read_i64_attr(f, "image_count", &n) != 0)
        rc = ws_errorf(WS_ERR_FORMAT, "%s: not marked complete", path);
    for (int i = 0; i < DS_COUNT && rc == WS_OK; i++) {
        int exists = H5Lexists(f, ds_names[i], H5P_DEFAULT) > 0;
        hid_t ds = exists ? H5Dopen2(f, ds_names[i], H5P_DEFAULT) : -1, sp = ds >= 0 ? H5Dget_space(ds) : -1;
        hsize_t dims[3] = {0, 0, 0};
        int rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
        if (rank >= 1 && rank <= 3) H5Sget_simple_extent_dims(sp, dims, NULL);
        if ((exists || i < DS_CLS) && (rank < 1 || rank > 3 || dims[0] != (hsize_t)n))
            rc = ws_errorf(WS_ERR_FORMAT, "%s: dataset %s missing or not of %lld rows", path, ds_names[i], (long long)n);
        if (sp >= 0) H5Sclose(sp);
        if (ds >= 0) H5Dclose(ds);
    }
    if (H5Fclose(f) < 0 && rc == WS_OK) rc = ws_errorf(WS_ERR_FORMAT, "%s: close failed", path);
    if (rc == WS_OK) *count = n;
    return rc;
}
