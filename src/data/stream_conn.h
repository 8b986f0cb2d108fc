/* One connection of a streamed shard, behind stream.c (internal to src/data): an HTTP transfer or
 * a running pipe: command, opened at a byte offset. stream.c owns the retries, the size cap and
 * the messages; a connection only reports what happened. */
#ifndef WEBSSL_DATA_STREAM_CONN_H
#define WEBSSL_DATA_STREAM_CONN_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "data/stream.h"

typedef struct stream_conn stream_conn;

#define STREAM_CANCEL_POLL_MS 100

/* What a failed read means for the retries. */
enum { CONN_RETRY = -1, CONN_PERMANENT = -2 };

/* Room for a response's validators (see validators below). */
#define STREAM_VALIDATORS_LEN 640

typedef struct {
    /* Start delivering the body from byte `offset` (earlier bytes the source sends are skipped);
     * `head`: ask for the headers only (HTTP HEAD; the body is then empty). A read waits at most
     * STREAM_CANCEL_POLL_MS between looks at *cancel and opts->stop_requested; once either says
     * stop the read returns CONN_PERMANENT. NULL when out of memory. */
    stream_conn *(*open)(const char *source, uint64_t offset, const ws_stream_opts *opts, int head,
                         const atomic_int *cancel);
    /* > 0 bytes, 0 at the end of a complete body, or CONN_RETRY / CONN_PERMANENT with the reason
     * in why[whylen]. */
    ssize_t (*read)(stream_conn *c, void *buf, size_t cap, char *why, size_t whylen);
    /* Once a read returned bytes or the end: what identifies the version of the remote file,
     * "<size>\t<ETag>\t<Last-Modified>" (size of the whole file, also for a Range response; the
     * values escaped with ws_escape_bytes; "-" for each the server does not give). NULL for
     * sources without any (pipe:). */
    void (*validators)(stream_conn *c, char *buf, size_t len);
    /* Stop the transfer or command and free everything. */
    void (*close)(stream_conn *c);
} stream_conn_ops;

extern const stream_conn_ops stream_conn_http;
extern const stream_conn_ops stream_conn_pipe;

#endif
