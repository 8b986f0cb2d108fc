/* VDS index over the shard files of an output directory (see h5_index.h). */
#include "io/h5_index.h"
#include "common/error.h"
#include "io/h5_check.h"
#include "common/log.h"
#include "io/h5_file.h"
#include "io/run_dir.h"
#include "io/shard_sum.h"

#include <dirent.h>
#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const ds_names[] = {"key", "status", "cls", "patch_mean", "patch", "head", "proto_index",
                                      "proto_score"};
enum { NDS = 8 };

typedef struct {
    char *name;         /* file name inside DIR */
    int64_t rows;
} shard_file;

typedef struct {
    int present;        /* dataset exists in the shards */
    hid_t type;         /* file type of the first shard */
    int rank;
    hsize_t dims[3];    /* trailing dims (dims[0] unused) */
} ds_info;

static int cmp_names(const void *a, const void *b) {
    return strcmp(((const shard_file *)a)->name, ((const shard_file *)b)->name);
}

/* Read a complete shard's row count and check its datasets against `info` (filled from the
 * first shard). Returns WS_OK, WS_ERR_FORMAT (incomplete or damaged: skip) or WS_ERR_ARG
 * (disagrees). Every byte is checked first (io/shard_sum.h). */
static int inspect_shard(const char *path, ds_info info[NDS], int first, int64_t *rows) {
    char why[512];
    shard_state state = shard_sum_check(path, why, sizeof why);
    if (state != SHARD_OK) return ws_errorf(WS_ERR_FORMAT, "%s: %s", path, why);
    hid_t f = -1;
    if (h5_file_open(path, &f) != WS_OK) return WS_ERR_FORMAT;
    int64_t complete = 0;
    int rc = WS_OK;
    if (H5Aexists(f, "complete") <= 0 || H5Aexists(f, "image_count") <= 0) {
        rc = ws_errorf(WS_ERR_FORMAT, "%s: not marked complete", path);
    } else {
        hid_t a = H5Aopen(f, "complete", H5P_DEFAULT);
        H5Aread(a, H5T_NATIVE_INT64, &complete);
        H5Aclose(a);
        a = H5Aopen(f, "image_count", H5P_DEFAULT);
        H5Aread(a, H5T_NATIVE_INT64, rows);
        H5Aclose(a);
        if (complete != 1) rc = ws_errorf(WS_ERR_FORMAT, "%s: not marked complete", path);
    }
    for (int i = 0; i < NDS && rc == WS_OK; i++) {
        int exists = H5Lexists(f, ds_names[i], H5P_DEFAULT) > 0;
        if (first) info[i].present = exists;
        if (exists != info[i].present) {
            rc = ws_errorf(WS_ERR_ARG, "%s: dataset %s %s, unlike the first shard", path, ds_names[i],
                           exists ? "present" : "missing");
            break;
        }
        if (!exists) continue;
        hid_t ds = H5Dopen2(f, ds_names[i], H5P_DEFAULT), sp = H5Dget_space(ds), t = H5Dget_type(ds);
        hsize_t dims[3] = {0, 0, 0};
        int rank = H5Sget_simple_extent_ndims(sp);
        if (rank >= 1 && rank <= 3) H5Sget_simple_extent_dims(sp, dims, NULL);
        if (first) {
            info[i].type = H5Tcopy(t);
            info[i].rank = rank;
            memcpy(info[i].dims, dims, sizeof dims);
        }
        if (rank != info[i].rank || dims[0] != (hsize_t)*rows || dims[1] != info[i].dims[1] ||
            dims[2] != info[i].dims[2] || H5Tequal(t, info[i].type) <= 0)
            rc = ws_errorf(WS_ERR_ARG, "%s: dataset %s has another shape or type than the first shard", path,
                           ds_names[i]);
        H5Tclose(t);
        H5Sclose(sp);
        H5Dclose(ds);
    }
    H5Fclose(f);
    return rc;
}

static int list_shards(const char *dir, shard_file **out, size_t *n) {
    DIR *d = opendir(dir);
    if (!d) return ws_errorf(WS_ERR_IO, "%s: cannot list the directory", dir);
    shard_file *v = NULL;
    size_t cnt = 0, cap = 0;
    struct dirent *e;
    int rc = WS_OK;
    while ((e = readdir(d))) {
        if (!run_dir_is_shard_file(e->d_name)) continue;
        if (cnt == cap) {
            cap = cap ? 2 * cap : 64;
            shard_file *p = realloc(v, cap * sizeof *p);
            if (!p) {
                rc = ws_errorf(WS_ERR_NOMEM, "listing %s", dir);
                break;
            }
            v = p;
        }
        v[cnt].rows = 0;
        if (!(v[cnt++].name = strdup(e->d_name))) {
            rc = ws_errorf(WS_ERR_NOMEM, "listing %s", dir);
            cnt--;
            break;
        }
    }
    closedir(d);
    if (cnt) qsort(v, cnt, sizeof *v, cmp_names);
    *out = v;
    *n = cnt;
    return rc;
}

/* One virtual dataset over every shard's `name`. */
static int write_vds(hid_t f, const char *name, const ds_info *in, const shard_file *s, size_t n, int64_t total) {
    hsize_t dims[3] = {(hsize_t)total, in->dims[1], in->dims[2]}, start[3] = {0, 0, 0};
    int rc = WS_OK;
    hid_t vsp = -1, dcpl = -1, ds = -1;
    H5_TRY(rc, vsp = H5Screate_simple(in->rank, dims, NULL));
    H5_TRY(rc, dcpl = H5Pcreate(H5P_DATASET_CREATE));
    for (size_t i = 0; i < n && rc == WS_OK; i++) {
        if (s[i].rows <= 0) continue;
        hsize_t count[3] = {(hsize_t)s[i].rows, in->dims[1], in->dims[2]};
        hid_t src = -1;
        H5_TRY(rc, src = H5Screate_simple(in->rank, count, NULL));
        H5_TRY(rc, H5Sselect_hyperslab(vsp, H5S_SELECT_SET, start, NULL, count, NULL));
        H5_TRY(rc, H5Pset_virtual(dcpl, vsp, s[i].name, name, src));
        if (src >= 0) H5Sclose(src);
        start[0] += (hsize_t)s[i].rows;
    }
    H5_TRY(rc, H5Sselect_all(vsp));
    H5_TRY(rc, ds = H5Dcreate2(f, name, in->type, vsp, H5P_DEFAULT, dcpl, H5P_DEFAULT));
    if (ds >= 0) H5Dclose(ds);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (vsp >= 0) H5Sclose(vsp);
    return rc == WS_OK ? WS_OK : ws_error_context(rc, "dataset %s", name);
}

/* A one-dimensional dataset `name` of n elements of file type `ft` from `v` (memory type `mt`). */
static int write_1d(hid_t f, const char *name, hid_t ft, hid_t mt, hsize_t n, const void *v) {
    int rc = WS_OK;
    hid_t sp = -1, d = -1;
    H5_TRY(rc, sp = H5Screate_simple(1, &n, NULL));
    H5_TRY(rc, d = H5Dcreate2(f, name, ft, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5_TRY(rc, H5Dwrite(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, v));
    if (d >= 0) H5Dclose(d);
    if (sp >= 0) H5Sclose(sp);
    return rc == WS_OK ? WS_OK : ws_error_context(rc, "dataset %s", name);
}

/* shard_name and shard_start over the `kept` indexed files among s[0..n). */
static int write_shard_table(hid_t f, const shard_file *s, size_t n, size_t kept) {
    const char **names = malloc((kept ? kept : 1) * sizeof *names);
    int64_t *start = malloc((kept + 1) * sizeof *start);
    int rc = names && start ? WS_OK : ws_errorf(WS_ERR_NOMEM, "out of memory for %zu shard names", kept);
    int64_t acc = 0;
    size_t j = 0;
    for (size_t i = 0; i < n && rc == WS_OK; i++)
        if (s[i].rows >= 0) names[j] = s[i].name, start[j++] = acc, acc += s[i].rows;
    if (rc == WS_OK) start[kept] = acc;
    hid_t str = -1;
    H5_TRY(rc, str = H5Tcopy(H5T_C_S1));
    H5_TRY(rc, H5Tset_size(str, H5T_VARIABLE));
    H5_TRY(rc, H5Tset_cset(str, H5T_CSET_UTF8));
    if (rc == WS_OK) rc = write_1d(f, "shard_name", str, str, (hsize_t)kept, names);
    if (rc == WS_OK) rc = write_1d(f, "shard_start", H5T_STD_I64LE, H5T_NATIVE_INT64, (hsize_t)kept + 1, start);
    if (str >= 0) H5Tclose(str);
    free(names);
    free(start);
    return rc;
}

int h5_index_write(const char *dir, ws_index_info *info) {
    h5_lib_init();
    memset(info, 0, sizeof *info);
    shard_file *s = NULL;
    size_t n = 0, kept = 0;
    int rc = list_shards(dir, &s, &n);
    ds_info di[NDS];
    memset(di, 0, sizeof di);
    for (int i = 0; i < NDS; i++) di[i].type = -1;
    char path[4096];
    for (size_t i = 0; i < n && rc == WS_OK; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, s[i].name);
        int r = inspect_shard(path, di, kept == 0, &s[i].rows);
        if (r == WS_ERR_FORMAT) {
            s[i].rows = -1;  /* incomplete or damaged: left out */
            info->skipped++;
            LOG_WARN("index: left out %s", ws_error_message());
        } else if (r != WS_OK) {
            rc = r;
        } else {
            kept++;
            info->rows += s[i].rows;
        }
    }
    if (rc == WS_OK && kept == 0) rc = ws_errorf(WS_ERR_ARG, "%s: no complete shard file to index", dir);
    info->shards = (int64_t)kept;
    char tmp[4096], final[4096];
    snprintf(final, sizeof final, "%s/" RUN_DIR_INDEX_NAME ".h5", dir);
    snprintf(tmp, sizeof tmp, "%s/." RUN_DIR_INDEX_NAME ".h5.tmp.%d", dir, (int)getpid());
    if (rc == WS_OK) {
        hid_t fapl = -1, f = -1;
        int fd = -1;
        H5_TRY(rc, fapl = H5Pcreate(H5P_FILE_ACCESS));
        H5_TRY(rc, H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_V110));  /* VDS needs the 1.10 format */
        if (rc == WS_OK) rc = h5_file_create(tmp, H5P_DEFAULT, fapl, &f, &fd);
        if (fd >= 0) close(fd);   /* HDF5 holds its own descriptor */
        if (fapl >= 0) H5Pclose(fapl);
        for (int i = 0; i < NDS && rc == WS_OK; i++)
            if (di[i].present) rc = write_vds(f, ds_names[i], &di[i], s, n, info->rows);
        if (rc == WS_OK) rc = write_shard_table(f, s, n, kept);
        if (rc == WS_OK) H5_TRY(rc, H5Fclose(f));
        else if (f >= 0) H5Fclose(f);
        if (rc == WS_OK && rename(tmp, final) != 0)
            rc = ws_errorf(WS_ERR_IO, "rename %s -> %s: %s", tmp, final, strerror(errno));
        if (rc != WS_OK) {
            unlink(tmp);
            rc = ws_error_context(rc, "%s: cannot write the index", final);
        }
    }
    for (size_t i = 0; i < n; i++) free(s[i].name);
    free(s);
    for (int i = 0; i < NDS; i++)
        if (di[i].type >= 0) H5Tclose(di[i].type);
    return rc;
}
