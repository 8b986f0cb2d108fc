/* Curation output files: whole datasets, temporary name, rename (see cfile.h). */
#include "curate/cfile.h"
#include "common/error.h"
#include "io/h5_check.h"
#include "io/h5_file.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct cfile {
    hid_t f;
    int fd;            /* the temporary file, opened by h5_file_create (no link followed) */
    char *final, *tmp;
};

int cfile_create(const char *path, cfile **out) {
    *out = NULL;
    h5_lib_init();
    cfile *c = calloc(1, sizeof *c);
    char *copy = strdup(path), *copy2 = strdup(path);
    if (!c || !copy || !copy2) {
        free(c), free(copy), free(copy2);
        return ws_errorf(WS_ERR_NOMEM, "out of memory");
    }
    const char *dir = dirname(copy), *base = basename(copy2);
    const size_t len = strlen(dir) + strlen(base) + 64;
    c->tmp = malloc(len);
    c->final = strdup(path);
    if (c->tmp) snprintf(c->tmp, len, "%s/.%s.tmp.%ld", dir, base, (long)getpid());
    free(copy), free(copy2);
    if (!c->tmp || !c->final) {
        free(c->tmp), free(c->final), free(c);
        return ws_errorf(WS_ERR_NOMEM, "out of memory");
    }
    unlink(c->tmp);   /* one left by a killed run of the same pid (a link is removed, not followed) */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST);
    int rc = h5_file_create(c->tmp, H5P_DEFAULT, fapl, &c->f, &c->fd);
    H5Pclose(fapl);
    if (rc) {
        free(c->tmp), free(c->final), free(c);
        return rc;
    }
    *out = c;
    return WS_OK;
}

int cfile_write(cfile *f, const char *name, hid_t mem, hid_t file_type, int rank, const int64_t *dims,
                const void *data) {
    hsize_t hd[2] = {(hsize_t)dims[0], rank > 1 ? (hsize_t)dims[1] : 0};
    int rc = WS_OK;
    hid_t sp = -1, d = -1;
    H5_TRY(rc, sp = H5Screate_simple(rank, hd, NULL));
    H5_TRY(rc, d = H5Dcreate2(f->f, name, file_type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    if (hd[0] && (rank == 1 || hd[1])) H5_TRY(rc, H5Dwrite(d, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
    if (d >= 0) H5Dclose(d);
    if (sp >= 0) H5Sclose(sp);
    return rc ? ws_error_context(rc, "%s: dataset '%s'", f->final, name) : WS_OK;
}

static hid_t string_type(void) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

int cfile_write_strings(cfile *f, const char *name, char *const *s, int64_t n) {
    hid_t t = string_type();
    const int64_t dims[1] = {n};
    int rc = cfile_write(f, name, t, t, 1, dims, s);
    H5Tclose(t);
    return rc;
}

static int attr(cfile *f, const char *name, hid_t type, const void *v) {
    int rc = WS_OK;
    hid_t sp = -1, a = -1;
    H5_TRY(rc, sp = H5Screate(H5S_SCALAR));
    H5_TRY(rc, a = H5Acreate2(f->f, name, type, sp, H5P_DEFAULT, H5P_DEFAULT));
    H5_TRY(rc, H5Awrite(a, type, v));
    if (a >= 0) H5Aclose(a);
    if (sp >= 0) H5Sclose(sp);
    return rc ? ws_error_context(rc, "%s: attribute '%s'", f->final, name) : WS_OK;
}

int cfile_attr_i64(cfile *f, const char *name, int64_t v) { return attr(f, name, H5T_NATIVE_INT64, &v); }
int cfile_attr_f64(cfile *f, const char *name, double v) { return attr(f, name, H5T_NATIVE_DOUBLE, &v); }
int cfile_attr_str(cfile *f, const char *name, const char *v) {
    hid_t t = string_type();
    int rc = attr(f, name, t, &v);
    H5Tclose(t);
    return rc;
}

static void cfile_free(cfile *f) {
    free(f->tmp), free(f->final), free(f);
}

void cfile_abort(cfile *f) {
    if (!f) return;
    if (f->f >= 0) H5Fclose(f->f);
    if (f->fd >= 0) close(f->fd);
    unlink(f->tmp);
    cfile_free(f);
}

int cfile_close(cfile *f) {
    int rc = cfile_attr_i64(f, "complete", 1);
    if (rc == WS_OK && H5Fclose(f->f) < 0) rc = ws_errorf(WS_ERR_IO, "%s: close failed", f->tmp);
    f->f = -1;
    if (rc) cfile_abort(f);
    return rc;
}

int cfile_sync(cfile *f) {
    int rc = WS_OK;
    if (fsync(f->fd) != 0) rc = ws_errorf(WS_ERR_IO, "%s: fsync: %s", f->tmp, strerror(errno));
    close(f->fd);
    f->fd = -1;
    if (rc == WS_OK && rename(f->tmp, f->final) != 0)
        rc = ws_errorf(WS_ERR_IO, "rename %s -> %s: %s", f->tmp, f->final, strerror(errno));
    if (rc) {
        cfile_abort(f);
        return rc;
    }
    cfile_free(f);
    return WS_OK;
}

int cfile_commit(cfile *f) {
    const int rc = cfile_close(f);
    return rc ? rc : cfile_sync(f);
}

int cfile_open_any(const char *path, hid_t *file) {
    h5_lib_init();
    return h5_file_open(path, file);
}

int cfile_open(const char *path, hid_t *file) {
    hid_t f;
    int rc = cfile_open_any(path, &f);
    if (rc) return rc;
    int64_t complete = 0;
    if (cfile_get_i64(f, path, "complete", &complete) || complete != 1) {
        H5Fclose(f);
        return ws_errorf(WS_ERR_FORMAT, "%s: not marked complete (written by a run that did not finish)", path);
    }
    *file = f;
    return WS_OK;
}

int cfile_shape(hid_t file, const char *path, const char *name, int *rank, int64_t dims[2]) {
    dims[0] = dims[1] = 0;
    if (H5Lexists(file, name, H5P_DEFAULT) <= 0) return ws_errorf(WS_ERR_FORMAT, "%s: no dataset '%s'", path, name);
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT), sp = d >= 0 ? H5Dget_space(d) : -1;
    hsize_t hd[2] = {0, 0};
    *rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    const int ok = *rank >= 1 && *rank <= 2 && H5Sget_simple_extent_dims(sp, hd, NULL) >= 0;
    if (sp >= 0) H5Sclose(sp);
    if (d >= 0) H5Dclose(d);
    if (!ok) return ws_errorf(WS_ERR_FORMAT, "%s: dataset '%s' is not 1-D or 2-D", path, name);
    dims[0] = (int64_t)hd[0], dims[1] = (int64_t)hd[1];
    return WS_OK;
}

int cfile_read(hid_t file, const char *path, const char *name, hid_t mem, int64_t elems, void *buf) {
    int rank;
    int64_t dims[2];
    int rc = cfile_shape(file, path, name, &rank, dims);
    if (rc) return rc;
    const int64_t n = rank == 2 ? dims[0] * dims[1] : dims[0];
    if (n != elems)
        return ws_errorf(WS_ERR_FORMAT, "%s: dataset '%s' has %lld elements, expected %lld", path, name,
                         (long long)n, (long long)elems);
    if (!n) return WS_OK;
    hid_t d = -1;
    H5_TRY(rc, d = H5Dopen2(file, name, H5P_DEFAULT));
    H5_TRY(rc, H5Dread(d, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf));
    if (d >= 0) H5Dclose(d);
    return rc ? ws_error_context(rc, "%s: reading '%s'", path, name) : WS_OK;
}

int cfile_read_strings(hid_t file, const char *path, const char *name, int64_t n, char **s) {
    hid_t t = string_type();
    int rc = cfile_read(file, path, name, t, n, s);
    H5Tclose(t);
    return rc;
}

static int get_attr(hid_t file, const char *path, const char *name, hid_t type, void *v) {
    if (H5Aexists(file, name) <= 0) return ws_errorf(WS_ERR_FORMAT, "%s: no attribute '%s'", path, name);
    hid_t a = H5Aopen(file, name, H5P_DEFAULT);
    const herr_t r = a >= 0 ? H5Aread(a, type, v) : -1;
    if (a >= 0) H5Aclose(a);
    return r < 0 ? ws_errorf(WS_ERR_FORMAT, "%s: attribute '%s' unreadable", path, name) : WS_OK;
}

int cfile_get_i64(hid_t file, const char *path, const char *name, int64_t *v) {
    return get_attr(file, path, name, H5T_NATIVE_INT64, v);
}

int cfile_get_f64(hid_t file, const char *path, const char *name, double *v) {
    return get_attr(file, path, name, H5T_NATIVE_DOUBLE, v);
}

int cfile_get_str(hid_t file, const char *path, const char *name, char *buf, size_t len) {
    buf[0] = 0;
    hid_t t = string_type();
    char *s = NULL;
    int rc = get_attr(file, path, name, t, &s);
    H5Tclose(t);
    if (rc == WS_OK && s) snprintf(buf, len, "%s", s);
    free(s);
    return rc;
}
