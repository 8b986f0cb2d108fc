/* Virtual datasets with recognisable fill values, and name/offset tables (see h5_index_vds.h). */
#include "io/h5_index_vds.h"
#include "io/h5_check.h"
#include "io/h5_file.h"
#include "io/h5_index.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What a row of `d` reads as when its source file cannot be opened (HDF5 returns the dataset's
 * fill value then, without an error): never a value a written row can hold next to status 0. */
static int set_fill(hid_t dcpl, const h5_index_ds *d) {
    int rc = WS_OK;
    if (!strcmp(d->name, "status")) {
        int8_t v = H5_INDEX_STATUS_MISSING;
        H5_TRY(rc, H5Pset_fill_value(dcpl, H5T_NATIVE_INT8, &v));
    } else if (!strcmp(d->name, "proto_index")) {
        int32_t v = H5_INDEX_PROTO_MISSING;
        H5_TRY(rc, H5Pset_fill_value(dcpl, H5T_NATIVE_INT32, &v));
    } else if (H5Tget_class(d->type) == H5T_FLOAT) {
        float v = NAN;   /* converted to the file type (f16 too) by HDF5 */
        H5_TRY(rc, H5Pset_fill_value(dcpl, H5T_NATIVE_FLOAT, &v));
    }   /* key: the default fill of a variable-length string, an empty string */
    return rc;
}

/* `name` with '%' doubled: HDF5 reads a source file name as a printf-like pattern. */
static void source_name(char *buf, size_t len, const char *prefix, const char *name) {
    size_t k = (size_t)snprintf(buf, len, "%s", prefix);
    for (; *name && k + 2 < len; name++) {
        if (*name == '%') buf[k++] = '%';
        buf[k++] = *name;
    }
    buf[k < len ? k : len - 1] = 0;
}

static int write_vds(hid_t f, const h5_index_ds *in, const char *prefix, const h5_index_src *s, size_t n,
                     int64_t total) {
    hsize_t dims[3] = {(hsize_t)total, in->dims[1], in->dims[2]}, start[3] = {0, 0, 0};
    int rc = WS_OK;
    hid_t vsp = -1, dcpl = -1, ds = -1;
    char src_name[8192];
    H5_TRY(rc, vsp = H5Screate_simple(in->rank, dims, NULL));
    H5_TRY(rc, dcpl = H5Pcreate(H5P_DATASET_CREATE));
    if (rc == WS_OK) rc = set_fill(dcpl, in);
    for (size_t i = 0; i < n && rc == WS_OK; i++) {
        if (s[i].rows <= 0) continue;
        hsize_t count[3] = {(hsize_t)s[i].rows, in->dims[1], in->dims[2]};
        hid_t src = -1;
        source_name(src_name, sizeof src_name, prefix, s[i].name);
        H5_TRY(rc, src = H5Screate_simple(in->rank, count, NULL));
        H5_TRY(rc, H5Sselect_hyperslab(vsp, H5S_SELECT_SET, start, NULL, count, NULL));
        H5_TRY(rc, H5Pset_virtual(dcpl, vsp, src_name, in->name, src));
        if (src >= 0) H5Sclose(src);
        start[0] += (hsize_t)s[i].rows;
    }
    H5_TRY(rc, H5Sselect_all(vsp));
    H5_TRY(rc, ds = H5Dcreate2(f, in->name, in->type, vsp, H5P_DEFAULT, dcpl, H5P_DEFAULT));
    if (ds >= 0) H5Dclose(ds);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (vsp >= 0) H5Sclose(vsp);
    return rc == WS_OK ? WS_OK : ws_error_context(rc, "dataset %s", in->name);
}

int h5_index_vds_file(const char *path, const h5_index_ds *ds, int nds, const char *prefix,
                      const h5_index_src *src, size_t n, int64_t total, hid_t *out) {
    int rc = WS_OK;
    hid_t fapl = -1, f = -1;
    H5_TRY(rc, fapl = H5Pcreate(H5P_FILE_ACCESS));
    H5_TRY(rc, H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_V110));  /* VDS needs the 1.10 format */
    int fd = -1;   /* created as every output file is: never through a link, never over a file */
    if (rc == WS_OK) rc = h5_file_create(path, H5P_DEFAULT, fapl, &f, &fd);
    if (fd >= 0) close(fd);   /* HDF5 holds its own descriptor */
    if (fapl >= 0) H5Pclose(fapl);
    for (int i = 0; i < nds && rc == WS_OK; i++)
        if (ds[i].present) rc = write_vds(f, &ds[i], prefix, src, n, total);
    if (rc != WS_OK && f >= 0) H5Fclose(f);
    *out = rc == WS_OK ? f : -1;
    return rc;
}

int h5_index_write_1d(hid_t f, const char *name, hid_t ft, hid_t mt, hsize_t n, const void *v) {
    int rc = WS_OK;
    hid_t sp = -1, d = -1;
    H5_TRY(rc, sp = H5Screate_simple(1, &n, NULL));
    H5_TRY(rc, d = H5Dcreate2(f, name, ft, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5_TRY(rc, H5Dwrite(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, v));
    if (d >= 0) H5Dclose(d);
    if (sp >= 0) H5Sclose(sp);
    return rc == WS_OK ? WS_OK : ws_error_context(rc, "dataset %s", name);
}

int h5_index_table(hid_t f, const char *names_ds, const char *start_ds, const h5_index_src *s, size_t n) {
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) kept += s[i].rows >= 0;
    const char **names = malloc((kept ? kept : 1) * sizeof *names);
    int64_t *start = malloc((kept + 1) * sizeof *start);
    int rc = names && start ? WS_OK : ws_errorf(WS_ERR_NOMEM, "out of memory for %zu names", kept);
    int64_t acc = 0;
    size_t j = 0;
    for (size_t i = 0; i < n && rc == WS_OK; i++)
        if (s[i].rows >= 0) names[j] = s[i].name, start[j++] = acc, acc += s[i].rows;
    if (rc == WS_OK) start[kept] = acc;
    hid_t str = -1;
    H5_TRY(rc, str = H5Tcopy(H5T_C_S1));
    H5_TRY(rc, H5Tset_size(str, H5T_VARIABLE));
    H5_TRY(rc, H5Tset_cset(str, H5T_CSET_UTF8));
    if (rc == WS_OK) rc = h5_index_write_1d(f, names_ds, str, str, (hsize_t)kept, names);
    if (rc == WS_OK) rc = h5_index_write_1d(f, start_ds, H5T_STD_I64LE, H5T_NATIVE_INT64, (hsize_t)kept + 1, start);
    if (str >= 0) H5Tclose(str);
    free(names);
    free(start);
    return rc;
}
