/* The manifest of an input shard: what its output file was made from, so that a resumed run can
 * tell whether the shard's inputs changed since. It is text, one line per fact (names escaped with
 * ws_escape_bytes, so a line holds no tab or newline; fields are tab-separated):
 *   webssl-dist manifest 1
 *   source <shard path>                   the tar, directory or list file
 *   tar <size> <mtime>                    TAR: the tar's size in bytes and modification time
 *   <key> <size> <mtime>                  FILES: one line per member, in row order
 *   <key> missing | <reason>              FILES: a member that cannot be stat'ed
 *   remote <size> <ETag> <Last-Modified>  STREAM over http(s): the file's version, from a HEAD
 *                                         request (data/stream.h stream_probe; "-" for each
 *                                         value the server does not give)
 * mtime is "<seconds>.<nanoseconds>". Building it costs one stat per tar or per member, or one
 * HEAD request per URL (a round trip; pipe: commands have nothing to ask), and reads no image
 * data. Its SHA-256 (`digest`) is stored as a root attribute of the shard file, the text
 * itself as the `manifest` dataset; a resume compares the digests and, when they differ, names
 * the first line that changed. */
#ifndef WEBSSL_DATA_SHARD_MANIFEST_H
#define WEBSSL_DATA_SHARD_MANIFEST_H

#include <stddef.h>

#include "common/digest.h"
#include "data/input_spec.h"
#include "data/stream.h"

typedef struct {
    char *text;                   /* NUL-terminated */
    size_t len;
    char digest[WS_DIGEST_HEX];   /* SHA-256 of text, hex */
    size_t missing;               /* FILES: members that do not exist */
    const char *first_missing;    /* the first of them (a path of the shard), NULL when none */
} ws_manifest;

/* Build the manifest of `shard` now (stats its files, or asks the server; `stream` says how long
 * to wait and how often to retry, NULL: the defaults). WS_OK, WS_ERR_NOMEM, or WS_ERR_IO when a
 * URL's server does not answer the HEAD request after the retries (the shard cannot be checked
 * or recorded: it fails). A tar that cannot be stat'ed gets a "tar <reason>" line (the read then
 * fails the shard). */
int shard_manifest_build(const ws_shard *shard, const ws_stream_opts *stream, ws_manifest *m);
void shard_manifest_free(ws_manifest *m);

/* Describe the first line that differs between an earlier manifest `was` and `now` into buf,
 * e.g. "was 'img0003.jpg 1520 1700000000.000000000', now 'img0003.jpg 1702 1700000400.000000000'"
 * (tabs shown as spaces; "(nothing)" when one manifest ends first). */
void shard_manifest_diff(const char *was, const char *now, char *buf, size_t len);

#endif
