/* A streamed shard: the bytes of an http(s):// URL or of a pipe: command's standard output, read
 * front to back with nothing written to local disk (see stream_source.h for the specs).
 * Failures (connection dropped, HTTP status >= 400, no data for `timeout` seconds, a transfer
 * that brings less than min_rate bytes/s over `timeout` seconds spent waiting for its data, a
 * command that exits non-zero or is killed)
 * are retried: the source is opened again and continues at the byte it stopped at (an HTTP Range
 * request; bytes the server or command sends again before that point are skipped, so a command
 * must write the same bytes each time). At most `retries` retries per shard, waiting retry_wait
 * seconds before the first and twice as long before each next one. A redirect loop, an
 * unsupported scheme, a certificate that does not verify, a body larger than max_bytes and a
 * remote file whose size, ETag or Last-Modified differ between two connections are not retried.
 * Every message names the source with its credentials removed. */
#ifndef WEBSSL_DATA_STREAM_H
#define WEBSSL_DATA_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct {
    int retries;            /* retries after the first attempt (>= 0) */
    double retry_wait;      /* seconds before the first retry (doubled for each next one) */
    double timeout;         /* seconds: connecting, or waiting for the next byte */
    uint64_t max_bytes;     /* largest body read (bytes); more is an error */
    uint64_t min_rate;      /* HTTP: bytes/s a transfer must bring while it is waited for, over
                             * `timeout` s of waiting (time the data sits unread does not count) */
    int (*stop_requested)(void); /* optional: polled while a read or probe waits (non-zero: stop) */
} ws_stream_opts;

#define WS_STREAM_DEFAULT_RETRIES 3
#define WS_STREAM_DEFAULT_RETRY_WAIT 1.0
#define WS_STREAM_DEFAULT_TIMEOUT 60.0
#define WS_STREAM_DEFAULT_MAX_BYTES ((uint64_t)64 << 30)
#define WS_STREAM_DEFAULT_MIN_RATE 1024   /* a healthy link is far faster, even when shared */

void stream_opts_default(ws_stream_opts *o);

typedef struct ws_stream ws_stream;

/* What identifies the current version of the http(s) file `source`, from a HEAD request
 * (redirects followed; failures retried as reads are): "<size>\t<ETag>\t<Last-Modified>" into
 * buf (values escaped; "-" for each the server does not give, all three when it refuses HEAD
 * with 403, 405 or 501, as URLs presigned for GET do). WS_OK, or WS_ERR_IO with a message naming
 * the source and the reason. */
int stream_probe(const char *source, const ws_stream_opts *opts, char *buf, size_t len);

/* Prepare to read `source` (copied); nothing is contacted yet. WS_OK, or WS_ERR_NOMEM. */
int stream_open(const char *source, const ws_stream_opts *opts, ws_stream **out);
/* Up to `cap` bytes into buf: > 0 bytes read, 0 at the end of the body, -1 on failure (after the
 * retries; stream_error says why, and every later call returns -1 again). */
ssize_t stream_read(ws_stream *s, void *buf, size_t cap);
/* After the reader is done with the data: read what is left (a tar ends before its body does)
 * and report whether the whole body arrived: WS_OK, or -1 with stream_error set (a command
 * that exits non-zero after its last useful byte is a failure too). */
int stream_finish(ws_stream *s);
/* From another thread: the read in progress returns -1 within about 0.1 s, and so does every
 * later one ("cancelled"). */
void stream_cancel(ws_stream *s);
/* The reason of the last failure ("" when none). */
const char *stream_error(const ws_stream *s);
/* The source with its credentials removed, for messages. */
const char *stream_display(const ws_stream *s);
/* Stops a transfer or command still running. NULL is fine. */
void stream_close(ws_stream *s);

#endif
