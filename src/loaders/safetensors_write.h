/* Writing a .safetensors file, streaming: the JSON header is written first (tensors in the given
 * order, data offsets computed from the shapes), then each tensor's bytes, produced one tensor at a
 * time by a callback, so a multi-GiB model never sits in memory at once. The file is written under
 * a temporary name and renamed on success: a failed or interrupted write never leaves a file that
 * looks complete. */
#ifndef WEBSSL_LOADERS_SAFETENSORS_WRITE_H
#define WEBSSL_LOADERS_SAFETENSORS_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "common/dtype.h"
#include "loaders/checkpoint.h"

typedef struct {
    char name[256];
    ws_dtype dtype;
    int ndim;
    int64_t shape[WS_CKPT_MAX_DIMS];
} ws_st_desc;

/* Fill `dst` with the bytes of tensor `index` (numel x element size, row-major). */
typedef int (*ws_st_fill)(void *ctx, size_t index, void *dst);

/* Write `n` tensors described by `desc` to `path`, with "__metadata__": {"format": "pt"}.
 * Returns WS_OK or an error naming the file (or the callback's error). */
int safetensors_write(const char *path, const ws_st_desc *desc, size_t n, ws_st_fill fill, void *ctx);

#endif
