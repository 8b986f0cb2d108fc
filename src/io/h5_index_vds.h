/* The writing half of the index (io/h5_index.h): one file of virtual datasets over a list of
 * source files, whose unreadable rows read as recognisable fill values, and the name/offset
 * tables that map a row back to its source. */
#ifndef WEBSSL_IO_H5_INDEX_VDS_H
#define WEBSSL_IO_H5_INDEX_VDS_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

/* A source file (name relative to the file being written, before the prefix) and its rows;
 * rows < 0: left out of the tables, rows <= 0: no mapping. */
typedef struct {
    char *name;
    int64_t rows;
} h5_index_src;

/* One dataset the sources hold: present in every source, with the first source's type and
 * trailing dims. */
typedef struct {
    const char *name;
    int present;
    hid_t type;
    int rank;
    hsize_t dims[3];
} h5_index_ds;

/* Create `path` (HDF5 1.10 format) holding, for each present ds[i], a virtual dataset of `total`
 * rows concatenating src[0..n) (source file prefix + name). The fill values, what a row reads as
 * when its source cannot be opened: status H5_INDEX_STATUS_MISSING, NaN floats, proto_index
 * H5_INDEX_PROTO_MISSING, an empty key. *out: the open file, for the tables. */
int h5_index_vds_file(const char *path, const h5_index_ds *ds, int nds, const char *prefix,
                      const h5_index_src *src, size_t n, int64_t total, hid_t *out);

/* `names_ds` [K] (strings) and `start_ds` [K + 1] (first row of each, then the total) over the
 * K sources of src[0..n) with rows >= 0. */
int h5_index_table(hid_t f, const char *names_ds, const char *start_ds, const h5_index_src *src, size_t n);

/* A one-dimensional dataset `name` of n elements of file type `ft` from `v` (memory type `mt`). */
int h5_index_write_1d(hid_t f, const char *name, hid_t ft, hid_t mt, hsize_t n, const void *v);

#endif
