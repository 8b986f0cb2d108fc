/* The preprocess output file (see h5_preprocess.h): extendible chunked datasets, one append per
 * batch. */
#include "io/h5_preprocess.h"
#include "io/h5_check.h"

#include <stdlib.h>
#include <string.h>

/* An extendible dataset of `rank` dims whose first (row) dim starts at 0; *out set, or an error. */
static int make_dataset(hid_t file, const char *name, hid_t type, int rank, const hsize_t *dims, hid_t *out) {
    hsize_t cur[4], max[4], chunk[4];
    for (int i = 0; i < rank; i++) {
        cur[i] = i ? dims[i] : 0;
        max[i] = i ? dims[i] : H5S_UNLIMITED;
        chunk[i] = i ? dims[i] : (rank == 1 ? 1024 : 1);
    }
    hid_t space = H5Screate_simple(rank, cur, max), plist = H5Pcreate(H5P_DATASET_CREATE);
    int rc = WS_OK;
    if (space < 0 || plist < 0 || H5Pset_chunk(plist, rank, chunk) < 0 ||
        (*out = H5Dcreate2(file, name, type, space, H5P_DEFAULT, plist, H5P_DEFAULT)) < 0) {
        char msg[256];
        rc = ws_errorf(WS_ERR_IO, "creating dataset '%s': %s", name, h5_error_text(msg, sizeof msg));
    }
    if (plist >= 0) H5Pclose(plist);
    if (space >= 0) H5Sclose(space);
    return rc;
}

/* Append `n` rows of `data` at row `at` (row shape = the dataset's dims after the first). */
static int append_rows(hid_t d, hid_t memtype, int rank, hsize_t at, hsize_t n, const void *data) {
    hsize_t dims[4], start[4] = {at, 0, 0, 0}, count[4];
    hid_t space;
    H5_CHECK(space = H5Dget_space(d));
    int got = H5Sget_simple_extent_dims(space, dims, NULL);
    H5Sclose(space);
    H5_CHECK(got);
    dims[0] = at + n;
    H5_CHECK(H5Dset_extent(d, dims));
    for (int i = 0; i < rank; i++) count[i] = i ? dims[i] : n;
    hid_t fs = H5Dget_space(d), ms = H5Screate_simple(rank, count, NULL);
    herr_t rc = fs < 0 || ms < 0 ? -1 : H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
    if (rc >= 0) rc = H5Dwrite(d, memtype, ms, fs, H5P_DEFAULT, data);
    if (ms >= 0) H5Sclose(ms);
    if (fs >= 0) H5Sclose(fs);
    H5_CHECK(rc);
    return WS_OK;
}

int h5_pre_open(h5_pre_file *o, const char *path, int R) {
    memset(o, 0, sizeof *o);
    o->file = o->key = o->shard = o->status = o->image = o->pixels = o->strtype = -1;
    o->R = R;
    o->path = path;
    h5_lib_init();
    char msg[256];
    o->file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (o->file < 0) return ws_errorf(WS_ERR_IO, "cannot create %s: %s", path, h5_error_text(msg, sizeof msg));
    o->strtype = H5Tcopy(H5T_C_S1);
    if (o->strtype < 0 || H5Tset_size(o->strtype, H5T_VARIABLE) < 0 || H5Tset_cset(o->strtype, H5T_CSET_UTF8) < 0)
        return ws_errorf(WS_ERR_IO, "%s: string type: %s", path, h5_error_text(msg, sizeof msg));
    hsize_t d1[1] = {0}, dimg[4] = {0, (hsize_t)R, (hsize_t)R, 3}, dpx[4] = {0, 3, (hsize_t)R, (hsize_t)R};
    int rc = make_dataset(o->file, "key", o->strtype, 1, d1, &o->key);
    if (rc == WS_OK) rc = make_dataset(o->file, "shard", o->strtype, 1, d1, &o->shard);
    if (rc == WS_OK) rc = make_dataset(o->file, "status", H5T_STD_I8LE, 1, d1, &o->status);
    if (rc == WS_OK) rc = make_dataset(o->file, "image", H5T_STD_U8LE, 4, dimg, &o->image);
    if (rc == WS_OK) rc = make_dataset(o->file, "pixels", H5T_IEEE_F32LE, 4, dpx, &o->pixels);
    return rc == WS_OK ? WS_OK : ws_error_context(rc, "%s", path);
}

int h5_pre_append(h5_pre_file *o, int n, char *const *keys, const char *shard, const int8_t *status,
                  const uint8_t *u8, const float *pixels) {
    const char **names = malloc((size_t)n * sizeof *names);
    if (!names) return ws_errorf(WS_ERR_NOMEM, "%s: out of memory", o->path);
    for (int i = 0; i < n; i++) names[i] = shard;
    const hsize_t rows = (hsize_t)n;
    int rc = append_rows(o->key, o->strtype, 1, o->n, rows, keys);
    if (rc == WS_OK) rc = append_rows(o->shard, o->strtype, 1, o->n, rows, names);
    if (rc == WS_OK) rc = append_rows(o->status, H5T_NATIVE_INT8, 1, o->n, rows, status);
    if (rc == WS_OK) rc = append_rows(o->image, H5T_NATIVE_UINT8, 4, o->n, rows, u8);
    if (rc == WS_OK) rc = append_rows(o->pixels, H5T_NATIVE_FLOAT, 4, o->n, rows, pixels);
    free(names);
    if (rc != WS_OK) return ws_error_context(rc, "writing %s", o->path);
    o->n += rows;
    return WS_OK;
}

static int attr_write(hid_t obj, const char *name, hid_t type, hsize_t n, const void *v) {
    hid_t sp = n ? H5Screate_simple(1, &n, NULL) : H5Screate(H5S_SCALAR);
    hid_t a = sp < 0 ? -1 : H5Acreate2(obj, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = a < 0 ? -1 : H5Awrite(a, type, v);
    if (a >= 0) H5Aclose(a);
    if (sp >= 0) H5Sclose(sp);
    H5_CHECK(rc);
    return WS_OK;
}

static int attr_string(hid_t obj, const char *name, const char *s) {
    hid_t t;
    H5_CHECK(t = H5Tcopy(H5T_C_S1));
    int rc = H5Tset_size(t, strlen(s) + 1) < 0 ? ws_errorf(WS_ERR_IO, "attribute '%s': string type", name)
                                               : attr_write(obj, name, t, 0, s);
    H5Tclose(t);
    return rc;
}

int h5_pre_close(h5_pre_file *o, const ws_preprocess *pre, size_t failures, const char *damaged) {
    long long images = (long long)o->n, fails = (long long)failures;
    int R = o->R, rc = WS_OK;
    if (o->file >= 0) {
        rc = attr_string(o->file, "mode", pre->mode == WS_PREPROCESS_CROP ? "crop" : "square");
        if (rc == WS_OK) rc = attr_write(o->file, "resize", H5T_NATIVE_INT, 0, &pre->resize);
        if (rc == WS_OK) rc = attr_write(o->file, "resolution", H5T_NATIVE_INT, 0, &R);
        if (rc == WS_OK) rc = attr_write(o->file, "mean", H5T_NATIVE_FLOAT, 3, pre->mean);
        if (rc == WS_OK) rc = attr_write(o->file, "std", H5T_NATIVE_FLOAT, 3, pre->std);
        if (rc == WS_OK) rc = attr_write(o->file, "images", H5T_NATIVE_LLONG, 0, &images);
        if (rc == WS_OK) rc = attr_write(o->file, "failures", H5T_NATIVE_LLONG, 0, &fails);
        if (rc == WS_OK) rc = attr_string(o->file, "damaged_shards", damaged);
    }
    hid_t ids[] = {o->key, o->shard, o->status, o->image, o->pixels};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        if (ids[i] >= 0) H5Dclose(ids[i]);
    if (o->strtype >= 0) H5Tclose(o->strtype);
    if (o->file >= 0 && H5Fclose(o->file) < 0 && rc == WS_OK) {
        char msg[256];
        rc = ws_errorf(WS_ERR_IO, "closing %s: %s", o->path, h5_error_text(msg, sizeof msg));
    }
    o->file = -1;
    return rc == WS_OK ? WS_OK : ws_error_context(rc, "%s", o->path);
}
