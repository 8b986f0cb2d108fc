/* One consolidated HDF5 file from an output directory's shard files (see h5_export.h). */
#define _GNU_SOURCE   /* scandir */
#include "io/h5_export.h"
#include "common/error.h"
#include "io/h5_check.h"
#include "io/h5_file.h"
#include "io/h5_index_vds.h"
#include "io/h5_writer.h"
#include "io/run_dir.h"

#include <dirent.h>
#include <errno.h>
#include <hdf5.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const ds_names[] = {"key", "status", "cls", "patch_mean", "patch", "head", "proto_index",
                                      "proto_score"};
enum { NDS = 8, FIRST_FEATURE = 2 };
/* Rows copied per read: blocks of about this many bytes (at least one row). */
enum { COPY_BYTES = 32 << 20, CHUNK_BYTES = 1 << 20, CHUNK_ROWS_MAX = 16384 };

/* Root attributes of a shard that describe that shard alone, not the run: not copied. */
static const char *const shard_only_attrs[] = {"source", "manifest", "manifest_digest", "image_count",
                                               "failure_count", "retry_count", "complete", "creation_time"};

typedef struct {
    int want;
    hid_t type;        /* the first exported shard's file type */
    int rank;
    hsize_t dims[3];
    size_t row_bytes;
    hid_t out;         /* the output dataset */
} ex_ds;

typedef struct {
    const ws_export_options *o;
    ex_ds ds[NDS];
    h5_index_src *src; /* [n] the shards exported: file name inside DIR, rows exported of it */
    int64_t *from;     /* [n] the first row exported of each */
    size_t n;
    int64_t rows;      /* rows to export */
    void *buf;         /* COPY_BYTES (or one row) */
    size_t buf_bytes;
} exporter;

static int by_name(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }
static int is_shard(const struct dirent *e) { return run_dir_is_shard_file(e->d_name); }

/* --datasets into ds[].want (key and status always). WS_OK or WS_ERR_ARG naming the word. */
static int choose_datasets(const char *list, ex_ds *ds) {
    for (int i = 0; i < NDS; i++) ds[i].want = list == NULL || i < FIRST_FEATURE;
    if (!list) return WS_OK;
    char *copy = strdup(list), *save = NULL;
    if (!copy) return ws_errorf(WS_ERR_NOMEM, "out of memory");
    int rc = WS_OK;
    for (char *w = strtok_r(copy, ",", &save); w && rc == WS_OK; w = strtok_r(NULL, ",", &save)) {
        int found = !strcmp(w, "proto");
        if (found) ds[6].want = ds[7].want = 1;
        for (int i = 0; i < NDS && !found; i++)
            if (!strcmp(w, ds_names[i])) ds[i].want = found = 1;
        if (!found)
            rc = ws_errorf(WS_ERR_ARG, "--datasets: unknown dataset '%s' (key, status, cls, patch_mean, patch, "
                           "head, proto_index, proto_score, proto)", w);
    }
    free(copy);
    return rc;
}

/* A shard before the range: complete, with image_count rows (*rows). WS_OK or WS_ERR_FORMAT. */
static int count_rows(const char *path, int64_t *rows) {
    hid_t f = -1;
    if (h5_file_open(path, &f) != WS_OK) return WS_ERR_FORMAT;
    int64_t complete = 0;
    *rows = -1;
    hid_t a = H5Aexists(f, "complete") > 0 ? H5Aopen(f, "complete", H5P_DEFAULT) : -1;
    if (a >= 0) H5Aread(a, H5T_NATIVE_INT64, &complete), H5Aclose(a);
    a = H5Aexists(f, "image_count") > 0 ? H5Aopen(f, "image_count", H5P_DEFAULT) : -1;
    if (a >= 0) H5Aread(a, H5T_NATIVE_INT64, rows), H5Aclose(a);
    H5Fclose(f);
    if (complete != 1 || *rows < 0) return ws_errorf(WS_ERR_FORMAT, "%s: not a complete shard file", path);
    return WS_OK;
}

/* The shards of DIR in name order with the rows of each in [first, last); those with rows are
 * verified byte for byte, each failure reported. WS_OK, WS_ERR_FORMAT (a shard refused) or
 * WS_ERR_ARG / WS_ERR_IO. */
static int plan(exporter *x, void (*report)(const char *, void *), void *ctx, ws_export_info *info) {
    const ws_export_options *o = x->o;
    struct dirent **names = NULL;
    int n = scandir(o->dir, &names, is_shard, by_name);
    if (n < 0) return ws_errorf(WS_ERR_IO, "%s: cannot list the directory: %s", o->dir, strerror(errno));
    x->src = calloc(n ? (size_t)n : 1, sizeof *x->src);
    x->from = calloc(n ? (size_t)n : 1, sizeof *x->from);
    int rc = x->src && x->from ? WS_OK : ws_errorf(WS_ERR_NOMEM, "out of memory listing %s", o->dir);
    char path[PATH_MAX];
    int64_t at = 0;   /* rows of the shards before */
    for (int i = 0; i < n && rc == WS_OK && (o->last < 0 || at < o->last); i++) {
        snprintf(path, sizeof path, "%s/%s", o->dir, names[i]->d_name);
        int64_t rows = -1;
        if (at < o->first) {   /* maybe wholly before the range: counted only */
            if (count_rows(path, &rows) != WS_OK) {   /* the rows after it cannot be placed */
                report(ws_error_message(), ctx);
                info->bad++;
                break;
            }
            if (at + rows <= o->first) {
                at += rows;
                continue;
            }
        }
        if (h5_shard_verify(path, &rows) != WS_OK) {
            report(ws_error_message(), ctx);
            info->bad++;
            continue;
        }
        size_t k = x->n++;
        x->from[k] = at < o->first ? o->first - at : 0;
        x->src[k].rows = (o->last >= 0 && at + rows > o->last ? o->last - at : rows) - x->from[k];
        at += rows;
        if (!(x->src[k].name = strdup(names[i]->d_name))) rc = ws_errorf(WS_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    if (rc == WS_OK && info->bad)
        rc = ws_errorf(WS_ERR_FORMAT, "%lld shard file(s) of %s failed verification: nothing exported",
                       (long long)info->bad, o->dir);
    if (rc == WS_OK && n == 0) rc = ws_errorf(WS_ERR_ARG, "%s: no shard file (*.h5)", o->dir);
    if (rc == WS_OK && (at < o->first || (o->last >= 0 && at < o->last)))
        rc = ws_errorf(WS_ERR_ARG, "%s holds %lld rows in %d shard files: the range %lld:%lld is not inside them",
                       o->dir, (long long)at, n, (long long)o->first, (long long)o->last);
    for (size_t i = 0; i < x->n; i++) x->rows += x->src[i].rows;
    if (rc == WS_OK && x->rows == 0) rc = ws_errorf(WS_ERR_ARG, "%s: no row to export", o->dir);
    info->shards = (int64_t)x->n;
    return rc;
}

/* Type and shape of each wanted dataset in the first exported shard `f`. */
static int describe(exporter *x, hid_t f, const char *path) {
    for (int i = 0; i < NDS; i++) {
        ex_ds *d = &x->ds[i];
        d->type = -1;
        if (!d->want) continue;
        if (H5Lexists(f, ds_names[i], H5P_DEFAULT) <= 0) {
            if (x->o->datasets) return ws_errorf(WS_ERR_ARG, "%s: no dataset %s (--datasets)", path, ds_names[i]);
            d->want = 0;
            continue;
        }
        hid_t ds = H5Dopen2(f, ds_names[i], H5P_DEFAULT);
        hid_t sp = ds >= 0 ? H5Dget_space(ds) : -1;
        d->type = ds >= 0 ? H5Dget_type(ds) : -1;
        d->rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
        if (d->rank >= 1 && d->rank <= 3) H5Sget_simple_extent_dims(sp, d->dims, NULL);
        if (sp >= 0) H5Sclose(sp);
        if (ds >= 0) H5Dclose(ds);
        if (d->type < 0 || d->rank < 1 || d->rank > 3)
            return ws_errorf(WS_ERR_FORMAT, "%s: dataset %s cannot be read", path, ds_names[i]);
        d->row_bytes = H5Tget_size(d->type);
        for (int k = 1; k < d->rank; k++) d->row_bytes *= d->dims[k];
        if (d->row_bytes > x->buf_bytes) x->buf_bytes = d->row_bytes;
    }
    return WS_OK;
}

/* The output's dataset for ds[i]: all rows, chunks of about CHUNK_BYTES, shuffle + deflate. */
static int create_out(exporter *x, hid_t f, int i) {
    ex_ds *d = &x->ds[i];
    hsize_t dims[3] = {(hsize_t)x->rows, d->dims[1], d->dims[2]}, chunk[3] = {1, d->dims[1], d->dims[2]};
    size_t per = CHUNK_BYTES / d->row_bytes;
    chunk[0] = per < 1 ? 1 : per > CHUNK_ROWS_MAX ? CHUNK_ROWS_MAX : per;
    if (chunk[0] > dims[0]) chunk[0] = dims[0];
    int rc = WS_OK;
    hid_t sp = -1, dcpl = -1;
    H5_TRY(rc, sp = H5Screate_simple(d->rank, dims, NULL));
    H5_TRY(rc, dcpl = H5Pcreate(H5P_DATASET_CREATE));
    H5_TRY(rc, H5Pset_chunk(dcpl, d->rank, chunk));
    if (x->o->level > 0 && H5Tis_variable_str(d->type) <= 0) {
        H5_TRY(rc, H5Pset_shuffle(dcpl));
        H5_TRY(rc, H5Pset_deflate(dcpl, (unsigned)x->o->level));
    }
    H5_TRY(rc, H5Pset_obj_track_times(dcpl, 0));
    H5_TRY(rc, d->out = H5Dcreate2(f, ds_names[i], d->type, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT));
    if (dcpl >= 0) H5Pclose(dcpl);
    if (sp >= 0) H5Sclose(sp);
    return rc == WS_OK ? WS_OK : ws_error_context(rc, "dataset %s", ds_names[i]);
}

/* Rows [from, from + n) of source dataset `src` to rows [at, at + n) of d->out, block by block. */
static int copy_rows(exporter *x, ex_ds *d, hid_t src, int64_t from, int64_t n, int64_t at) {
    hsize_t block = x->buf_bytes / d->row_bytes;
    int rc = WS_OK;
    for (int64_t done = 0; done < n && rc == WS_OK;) {
        hsize_t cnt[3] = {(hsize_t)(n - done) < block ? (hsize_t)(n - done) : block, d->dims[1], d->dims[2]};
        hsize_t in_at[3] = {(hsize_t)(from + done), 0, 0}, out_at[3] = {(hsize_t)(at + done), 0, 0};
        hid_t mem = -1, fin = -1, fout = -1;
        H5_TRY(rc, mem = H5Screate_simple(d->rank, cnt, NULL));
        H5_TRY(rc, fin = H5Dget_space(src));
        H5_TRY(rc, H5Sselect_hyperslab(fin, H5S_SELECT_SET, in_at, NULL, cnt, NULL));
        H5_TRY(rc, fout = H5Dget_space(d->out));
        H5_TRY(rc, H5Sselect_hyperslab(fout, H5S_SELECT_SET, out_at, NULL, cnt, NULL));
        int read = 0;
        H5_TRY(rc, H5Dread(src, d->type, mem, fin, H5P_DEFAULT, x->buf));
        if (rc == WS_OK) read = 1;
        H5_TRY(rc, H5Dwrite(d->out, d->type, mem, fout, H5P_DEFAULT, x->buf));
        if (read && H5Tis_variable_str(d->type) > 0) H5Dvlen_reclaim(d->type, mem, H5P_DEFAULT, x->buf);
        if (fout >= 0) H5Sclose(fout);
        if (fin >= 0) H5Sclose(fin);
        if (mem >= 0) H5Sclose(mem);
        done += (int64_t)cnt[0];
    }
    return rc;
}

/* Every wanted dataset of exported shard k (file f) into the output at row `at`; its datasets
 * must have the first shard's type and trailing dims. */
static int copy_shard(exporter *x, hid_t f, const char *path, size_t k, int64_t at) {
    int rc = WS_OK;
    for (int i = 0; i < NDS && rc == WS_OK; i++) {
        ex_ds *d = &x->ds[i];
        if (!d->want) continue;
        hid_t ds = H5Lexists(f, ds_names[i], H5P_DEFAULT) > 0 ? H5Dopen2(f, ds_names[i], H5P_DEFAULT) : -1;
        hid_t sp = ds >= 0 ? H5Dget_space(ds) : -1, t = ds >= 0 ? H5Dget_type(ds) : -1;
        hsize_t dims[3] = {0, 0, 0};
        int rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
        if (rank == d->rank) H5Sget_simple_extent_dims(sp, dims, NULL);
        if (ds < 0 || rank != d->rank || dims[1] != d->dims[1] || dims[2] != d->dims[2] || H5Tequal(t, d->type) <= 0)
            rc = ws_errorf(WS_ERR_ARG, "%s: dataset %s is missing or has another shape or type than in the first "
                           "shard exported", path, ds_names[i]);
        else
            rc = copy_rows(x, d, ds, x->from[k], x->src[k].rows, at);
        if (t >= 0) H5Tclose(t);
        if (sp >= 0) H5Sclose(sp);
        if (ds >= 0) H5Dclose(ds);
    }
    return rc == WS_OK ? WS_OK : ws_error_context(rc, "%s", path);
}

/* Copy root attribute `name` of the first shard to the output (op_data), unless it is one of
 * shard_only_attrs. */
static herr_t copy_attr(hid_t loc, const char *name, const H5A_info_t *ainfo, void *op_data) {
    (void)ainfo;
    for (size_t i = 0; i < sizeof shard_only_attrs / sizeof *shard_only_attrs; i++)
        if (!strcmp(name, shard_only_attrs[i])) return 0;
    hid_t out = *(hid_t *)op_data, a = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t t = a >= 0 ? H5Aget_type(a) : -1, sp = a >= 0 ? H5Aget_space(a) : -1, b = -1;
    hssize_t npts = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    void *buf = npts >= 0 && t >= 0 ? calloc((size_t)npts + 1, H5Tget_size(t)) : NULL;
    const int read = buf && H5Aread(a, t, buf) >= 0;
    herr_t rc = -1;
    if (read && (b = H5Acreate2(out, name, t, sp, H5P_DEFAULT, H5P_DEFAULT)) >= 0) rc = H5Awrite(b, t, buf);
    if (read && (H5Tdetect_class(t, H5T_VLEN) > 0 || H5Tis_variable_str(t) > 0))
        H5Dvlen_reclaim(t, sp, H5P_DEFAULT, buf);
    free(buf);
    if (b >= 0) H5Aclose(b);
    if (sp >= 0) H5Sclose(sp);
    if (t >= 0) H5Tclose(t);
    if (a >= 0) H5Aclose(a);
    return rc < 0 ? -1 : 0;
}

/* The shards' table (shard_name, shard_start, shard_offset) and the export's own attributes. */
static int write_tables(exporter *x, hid_t f) {
    int rc = h5_index_table(f, "shard_name", "shard_start", x->src, x->n);
    if (rc == WS_OK)
        rc = h5_index_write_1d(f, "shard_offset", H5T_STD_I64LE, H5T_NATIVE_INT64, (hsize_t)x->n, x->from);
    const char *from = x->o->dir;
    int64_t v[2] = {x->o->first, x->rows};
    const char *names[2] = {"row_start", "row_count"};
    hid_t sp = -1, str = -1, a = -1;
    H5_TRY(rc, sp = H5Screate(H5S_SCALAR));
    for (int i = 0; i < 2; i++) {
        H5_TRY(rc, a = H5Acreate2(f, names[i], H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT));
        H5_TRY(rc, H5Awrite(a, H5T_NATIVE_INT64, &v[i]));
        if (a >= 0) H5Aclose(a), a = -1;
    }
    H5_TRY(rc, str = H5Tcopy(H5T_C_S1));
    H5_TRY(rc, H5Tset_size(str, H5T_VARIABLE));
    H5_TRY(rc, H5Tset_cset(str, H5T_CSET_UTF8));
    H5_TRY(rc, a = H5Acreate2(f, "exported_from", str, sp, H5P_DEFAULT, H5P_DEFAULT));
    H5_TRY(rc, H5Awrite(a, str, &from));
    if (a >= 0) H5Aclose(a);
    if (str >= 0) H5Tclose(str);
    if (sp >= 0) H5Sclose(sp);
    return rc;
}

/* Every exported shard into the open output f, one shard file open at a time; the first one's
 * run attributes copied. */
static int copy_all(exporter *x, hid_t f) {
    char path[PATH_MAX];
    int rc = WS_OK;
    int64_t at = 0;
    for (size_t k = 0; k < x->n && rc == WS_OK; k++) {
        snprintf(path, sizeof path, "%s/%s", x->o->dir, x->src[k].name);
        hid_t in = -1;
        if ((rc = h5_file_open(path, &in)) != WS_OK) break;
        if (k == 0) {
            rc = describe(x, in, path);
            if (rc == WS_OK && !(x->buf = malloc(x->buf_bytes > COPY_BYTES ? x->buf_bytes : COPY_BYTES)))
                rc = ws_errorf(WS_ERR_NOMEM, "out of memory for the copy buffer");
            if (rc == WS_OK) x->buf_bytes = x->buf_bytes > COPY_BYTES ? x->buf_bytes : COPY_BYTES;
            for (int i = 0; i < NDS && rc == WS_OK; i++)
                if (x->ds[i].want) rc = create_out(x, f, i);
            hsize_t idx = 0;
            if (rc == WS_OK && H5Aiterate2(in, H5_INDEX_NAME, H5_ITER_INC, &idx, copy_attr, &f) < 0)
                rc = ws_errorf(WS_ERR_IO, "%s: cannot copy its attributes: %s", path, h5_error_text((char[320]){0}, 320));
        }
        if (rc == WS_OK) rc = copy_shard(x, in, path, k, at);
        at += x->src[k].rows;
        H5Fclose(in);
    }
    return rc;
}

/* FILE.tmp.<pid> written, closed and synced, then moved onto FILE: renamed over it with
 * overwrite, else linked (which never replaces a file that appeared meanwhile). */
static int write_file(exporter *x) {
    const char *out = x->o->output;
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%d", out, (int)getpid()) >= (int)sizeof tmp)
        return ws_errorf(WS_ERR_ARG, "%s: name too long", out);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), fcpl = H5Pcreate(H5P_FILE_CREATE), f = -1;
    int fd = -1, rc = WS_OK;
    H5_TRY(rc, H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18));
    H5_TRY(rc, H5Pset_obj_track_times(fcpl, 0));
    if (rc == WS_OK) rc = h5_file_create(tmp, fcpl, fapl, &f, &fd);
    if (rc == WS_OK) rc = copy_all(x, f);
    if (rc == WS_OK) rc = write_tables(x, f);
    for (int i = 0; i < NDS; i++)
        if (x->ds[i].want && x->ds[i].out > 0) H5Dclose(x->ds[i].out);
    if (f >= 0 && H5Fclose(f) < 0 && rc == WS_OK) rc = H5_FAILED_("H5Fclose");
    if (fd >= 0 && fsync(fd) != 0 && rc == WS_OK) rc = ws_errorf(ws_err_from_errno(errno), "%s: fsync: %s", tmp, strerror(errno));
    if (fd >= 0) close(fd);
    H5Pclose(fapl);
    H5Pclose(fcpl);
    if (rc == WS_OK && (x->o->overwrite ? rename(tmp, out) : link(tmp, out)) != 0)
        rc = errno == EEXIST ? ws_errorf(WS_ERR_ARG, "%s exists (--overwrite replaces it)", out)
                             : ws_errorf(WS_ERR_IO, "cannot move %s onto %s: %s", tmp, out, strerror(errno));
    if (fd >= 0 && (rc != WS_OK || !x->o->overwrite)) unlink(tmp);   /* only a file this call created */
    return rc == WS_OK ? WS_OK : ws_error_context(rc, "%s: not written", out);
}

/* WS_ERR_ARG when FILE exists (without overwrite) or lies in DIR, where it would be taken for a
 * shard. */
static int check_output(const ws_export_options *o) {
    struct stat st;
    if (!o->overwrite && lstat(o->output, &st) == 0)
        return ws_errorf(WS_ERR_ARG, "%s exists (--overwrite replaces it)", o->output);
    char copy[PATH_MAX], a[PATH_MAX], b[PATH_MAX];
    snprintf(copy, sizeof copy, "%s", o->output);
    if (realpath(dirname(copy), a) && realpath(o->dir, b) && !strcmp(a, b))
        return ws_errorf(WS_ERR_ARG, "%s: inside %s, where it would be taken for a shard file; write it elsewhere",
                         o->output, o->dir);
    return WS_OK;
}

int h5_export(const ws_export_options *o, void (*report)(const char *msg, void *ctx), void *ctx,
              ws_export_info *info) {
    h5_lib_init();
    memset(info, 0, sizeof *info);
    exporter x;
    memset(&x, 0, sizeof x);
    x.o = o;
    int rc = o->first < 0 || (o->last >= 0 && o->last <= o->first)
                 ? ws_errorf(WS_ERR_ARG, "--range %lld:%lld: expected 0 <= a < b", (long long)o->first, (long long)o->last)
                 : WS_OK;
    if (rc == WS_OK) rc = check_output(o);
    if (rc == WS_OK) rc = choose_datasets(o->datasets, x.ds);
    if (rc == WS_OK) rc = plan(&x, report, ctx, info);
    if (rc == WS_OK) rc = write_file(&x);
    if (rc == WS_OK) info->rows = x.rows;
    for (size_t i = 0; i < x.n; i++) free(x.src[i].name);
    for (int i = 0; i < NDS; i++)
        if (x.ds[i].type > 0) H5Tclose(x.ds[i].type);
    free(x.src);
    free(x.from);
    free(x.buf);
    return rc;
}
