/* Streamed shard sources in --input specs: what counts as one, its stable shard name, and the
 * form of it that may be shown (logs, run.json, HDF5 attributes) with credentials removed.
 *   http://host/path/shard-0001.tar, https://...    fetched with libcurl
 *   pipe:CMD                                         the tar is CMD's standard output (sh -c CMD)
 *   any other "scheme://..."                         a source of an unsupported scheme: it becomes
 *                                                    a shard that fails with a clear reason
 * Everything else is a local path. */
#ifndef WEBSSL_DATA_STREAM_SOURCE_H
#define WEBSSL_DATA_STREAM_SOURCE_H

#include <stddef.h>

typedef enum {
    WS_SOURCE_LOCAL = 0,
    WS_SOURCE_HTTP,          /* http:// or https:// (scheme case-insensitive) */
    WS_SOURCE_PIPE,          /* pipe:CMD */
    WS_SOURCE_UNSUPPORTED,   /* another scheme:// */
} ws_source_kind;

ws_source_kind stream_source_kind(const char *spec);

/* Length of the .tar / .tar.gz / .tgz ending of name[0..len) (the one truth of which endings
 * name tar shards), 0 when it has none or is nothing but the ending. */
size_t shard_tar_suffix(const char *name, size_t len);

/* The shard name of a streamed source (malloc'd), or NULL with a WS_ERR_ARG message when none
 * can be derived. URL: the last path element, query and fragment dropped, without .tar / .tar.gz /
 * .tgz ("https://h/d/shard-0042.tar?sig=x" -> "shard-0042"). pipe:CMD: the last word of CMD whose
 * base name ends in .tar / .tar.gz / .tgz, else the last word holding a '/', taken the same way
 * ("pipe:aws s3 cp s3://b/shard-0042.tar -" -> "shard-0042"). */
char *stream_source_name(const char *spec);

/* `text` (a URL, a pipe: command, an --input spec) with every URL's credentials replaced by
 * "***": the user:password@ part and the query string (presigned URLs carry their signature
 * there). malloc'd; NULL when out of memory. */
char *stream_source_redact(const char *text);

#endif
