/* A shard list (data/input_spec.h) as one flat byte buffer, so that one rank expands --input
 * (globs, directory walks, stats) and sends the result to the others in one broadcast. */
#ifndef WEBSSL_DATA_SHARD_LIST_PACK_H
#define WEBSSL_DATA_SHARD_LIST_PACK_H

#include <stddef.h>

#include "data/input_spec.h"

/* *buf (malloc'ed, *len bytes) holding every field of every shard. WS_OK or WS_ERR_NOMEM. */
int shard_list_pack(const ws_shard_list *list, char **buf, size_t *len);
/* The list packed in buf[0..len) into *out (zeroed first). WS_OK, WS_ERR_FORMAT (a buffer
 * cut short or not made by shard_list_pack) or WS_ERR_NOMEM; *out is empty on failure. */
int shard_list_unpack(const char *buf, size_t len, ws_shard_list *out);

#endif
