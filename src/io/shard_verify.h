/* `webssl-dist verify DIR`: every byte of every shard file of an output directory checked
 * (h5_shard_verify: the whole-file checksum, then the HDF5 structure), each bad file reported. */
#ifndef WEBSSL_IO_SHARD_VERIFY_H
#define WEBSSL_IO_SHARD_VERIFY_H

#include <stdint.h>

typedef struct {
    int64_t files;   /* shard files checked (every "*.h5" but index.h5) */
    int64_t bad;     /* of them, failing a check */
    int64_t rows;    /* rows of the good ones */
    double bytes;    /* bytes of the files checked */
} ws_verify_info;

/* Check the shard files of `dir` in name order; call report(message, ctx) for each bad one (the
 * message names the file and the reason). WS_OK when the directory could be listed, whatever
 * the files' state (see info->bad); WS_ERR_IO when it cannot be listed, WS_ERR_NOMEM. */
int shard_verify_dir(const char *dir, void (*report)(const char *msg, void *ctx), void *ctx, ws_verify_info *info);

#endif
