/* The HDF5 files curation writes (centroids, checkpoints, assignments, dedup and sample results):
 * whole datasets written at once into a temporary file beside the final one, then `complete` = 1,
 * fsync and rename, so a killed run never leaves a file that looks finished (the rule of the
 * embedding shards); and the matching readers, which check shapes and name the file. */
#ifndef WEBSSL_CURATE_CFILE_H
#define WEBSSL_CURATE_CFILE_H

#include <hdf5.h>
#include <stdint.h>

typedef struct cfile cfile;

/* Start `path` (written as ".<name>.tmp.<pid>" in its directory). WS_OK or WS_ERR_IO. */
int cfile_create(const char *path, cfile **out);
/* Dataset `name` of `rank` (1 or 2) dims from `data` in memory type `mem`, stored as `file_type`. */
int cfile_write(cfile *f, const char *name, hid_t mem, hid_t file_type, int rank, const int64_t *dims,
                const void *data);
/* Variable-length UTF-8 strings (the keys, as the embedding shards store them). */
int cfile_write_strings(cfile *f, const char *name, char *const *s, int64_t n);
int cfile_attr_i64(cfile *f, const char *name, int64_t v);
int cfile_attr_f64(cfile *f, const char *name, double v);
int cfile_attr_str(cfile *f, const char *name, const char *v);
/* Mark complete, close, fsync, rename onto the final path; frees f (on failure too, removing the
 * temporary file). */
int cfile_commit(cfile *f);
/* cfile_commit in its two steps, for a caller that overlaps the fsync with other work:
 * cfile_close marks the file complete and closes it (the HDF5 calls: on the thread that wrote it;
 * frees f on failure), cfile_sync fsyncs and renames it (no HDF5 call: any thread) and frees f. */
int cfile_close(cfile *f);
int cfile_sync(cfile *f);
void cfile_abort(cfile *f);

/* Open a complete file for reading. WS_OK, or WS_ERR_IO / WS_ERR_FORMAT naming it. */
int cfile_open(const char *path, hid_t *file);
/* Open any HDF5 file for reading (one a user made, e.g. --init centroids). */
int cfile_open_any(const char *path, hid_t *file);
/* Read dataset `name` whole into buf, which holds `elems` elements of `mem`: the dataset must
 * have exactly that many (WS_ERR_FORMAT otherwise). dims (may be NULL) gets its shape. */
int cfile_read(hid_t file, const char *path, const char *name, hid_t mem, int64_t elems, void *buf);
/* Shape of dataset `name`: rank into *rank, dims (up to 2). WS_ERR_FORMAT when absent. */
int cfile_shape(hid_t file, const char *path, const char *name, int *rank, int64_t dims[2]);
int cfile_read_strings(hid_t file, const char *path, const char *name, int64_t n, char **s);
int cfile_get_i64(hid_t file, const char *path, const char *name, int64_t *v);
int cfile_get_f64(hid_t file, const char *path, const char *name, double *v);
/* String attribute into buf[len] ("" and WS_ERR_FORMAT when absent). */
int cfile_get_str(hid_t file, const char *path, const char *name, char *buf, size_t len);

#endif
