/* The HDF5 file of `webssl-dist preprocess`: the exact model inputs of every image, appended
 * batch by batch, so anyone can compare them with their own preprocessing:
 *   key [N] string, shard [N] string, status [N] int8, image [N, R, R, 3] uint8 (after resize and
 *   crop), pixels [N, 3, R, R] float32 (normalised); root attributes mode, resize, resolution,
 *   mean, std, images, failures, damaged_shards.
 * Every HDF5 call is checked (H5_CHECK): errors name the call and the file. */
#ifndef WEBSSL_IO_H5_PREPROCESS_H
#define WEBSSL_IO_H5_PREPROCESS_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arch.h"

typedef struct {
    hid_t file, key, shard, status, image, pixels, strtype;
    hsize_t n;            /* rows written */
    int R;
    const char *path;     /* borrowed */
} h5_pre_file;

/* Create `path` (truncated) for images of side R. WS_OK or WS_ERR_IO naming the path. */
int h5_pre_open(h5_pre_file *o, const char *path, int R);
/* Append n rows: keys[n], every row from shard `shard`, status[n], u8 [n, R, R, 3] and pixels
 * [n, 3, R, R]. WS_OK, WS_ERR_NOMEM or WS_ERR_IO. */
int h5_pre_append(h5_pre_file *o, int n, char *const *keys, const char *shard, const int8_t *status,
                  const uint8_t *u8, const float *pixels);
/* Write the root attributes and close (also after a failed append). WS_OK or WS_ERR_IO. */
int h5_pre_close(h5_pre_file *o, const ws_preprocess *pre, size_t failures, const char *damaged);

#endif
