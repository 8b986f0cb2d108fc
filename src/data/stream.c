/* Streamed shards: retries with backoff, the size cap and the messages over one connection at a
 * time (see stream.h; the connections are stream_http.c and stream_pipe.c). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "common/log.h"
#include "data/stream.h"
#include "data/stream_conn.h"
#include "data/stream_source.h"

struct ws_stream {
    char *source, *display;
    ws_stream_opts opts;
    const stream_conn_ops *ops;   /* NULL: unsupported scheme */
    stream_conn *conn;
    uint64_t offset;              /* bytes delivered so far */
    int attempts;                 /* connections opened */
    int ended, failed;
    int head;                     /* a probe: headers only */
    int fresh;                    /* the connection's validators are not taken yet */
    char validators[STREAM_VALIDATORS_LEN];   /* the first connection's ("" before) */
    atomic_int cancelled;
    char why[512];
};

void stream_opts_default(ws_stream_opts *o) {
    o->retries = WS_STREAM_DEFAULT_RETRIES;
    o->retry_wait = WS_STREAM_DEFAULT_RETRY_WAIT;
    o->timeout = WS_STREAM_DEFAULT_TIMEOUT;
    o->max_bytes = WS_STREAM_DEFAULT_MAX_BYTES;
    o->min_rate = WS_STREAM_DEFAULT_MIN_RATE;
    o->stop_requested = NULL;
}

int stream_open(const char *source, const ws_stream_opts *opts, ws_stream **out) {
    ws_stream *s = calloc(1, sizeof *s);
    *out = NULL;
    if (!s || !(s->source = strdup(source)) || !(s->display = stream_source_redact(source))) {
        if (s) free(s->source);
        free(s);
        return ws_errorf(WS_ERR_NOMEM, "out of memory opening a streamed shard");
    }
    s->opts = *opts;
    ws_source_kind k = stream_source_kind(source);
    s->ops = k == WS_SOURCE_HTTP ? &stream_conn_http : k == WS_SOURCE_PIPE ? &stream_conn_pipe : NULL;
    *out = s;
    return WS_OK;
}

static void sleep_seconds(double t) {
    struct timespec ts = {(time_t)t, (long)((t - (double)(time_t)t) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

static ssize_t fail(ws_stream *s, const char *reason) {
    snprintf(s->why, sizeof s->why, "%.200s: %.300s", s->display, reason);
    s->failed = 1;
    return -1;
}

static int stopped(ws_stream *s) {
    return atomic_load(&s->cancelled) || (s->opts.stop_requested && s->opts.stop_requested());
}

/* 1 when two validator strings disagree on a field both give ("-" matches anything: a server
 * may send a length with one response and not with the next). */
static int validators_differ(const char *a, const char *b) {
    while (*a || *b) {
        size_t na = strcspn(a, "\t"), nb = strcspn(b, "\t");
        int known = !(na == 1 && *a == '-') && !(nb == 1 && *b == '-');
        if (known && (na != nb || memcmp(a, b, na) != 0)) return 1;
        a += na + (a[na] == '\t');
        b += nb + (b[nb] == '\t');
    }
    return 0;
}

/* The new connection's validators: the first ones are kept, later ones must agree (else the
 * bytes before and after a resumed transfer would come from different files). 0, or -1 failed. */
static int take_validators(ws_stream *s) {
    s->fresh = 0;
    if (!s->ops->validators) return 0;
    char v[STREAM_VALIDATORS_LEN];
    s->ops->validators(s->conn, v, sizeof v);
    if (!s->validators[0]) {
        snprintf(s->validators, sizeof s->validators, "%s", v);
        return 0;
    }
    if (!validators_differ(v, s->validators)) return 0;
    char reason[400];
    snprintf(reason, sizeof reason, "the remote file changed during the transfer (size, ETag, Last-Modified "
             "were '%.150s', now '%.150s')", s->validators, v);
    s->ops->close(s->conn);
    s->conn = NULL;
    fail(s, reason);
    return -1;
}

ssize_t stream_read(ws_stream *s, void *buf, size_t cap) {
    if (s->failed) return -1;
    if (s->ended) return 0;
    if (!s->ops) {
        size_t n = strcspn(s->source, ":");
        char reason[96];
        snprintf(reason, sizeof reason, "unsupported URL scheme '%.*s' (http://, https:// and pipe: are)",
                 (int)(n < 40 ? n : 40), s->source);
        return fail(s, reason);
    }
    for (;;) {
        if (!s->conn) {
            s->attempts++;
            if (!(s->conn = s->ops->open(s->source, s->offset, &s->opts, s->head, &s->cancelled)))
                return fail(s, "out of memory");
            s->fresh = 1;
        }
        char why[384] = "";
        ssize_t n = s->ops->read(s->conn, buf, cap, why, sizeof why);
        if (n >= 0 && s->fresh && take_validators(s) != 0) return -1;
        if (n > 0) {
            if (s->offset + (uint64_t)n > s->opts.max_bytes) {
                char reason[160];
                snprintf(reason, sizeof reason, "body larger than the --max-shard-bytes limit of %llu bytes",
                         (unsigned long long)s->opts.max_bytes);
                s->ops->close(s->conn);
                s->conn = NULL;
                return fail(s, reason);
            }
            s->offset += (uint64_t)n;
            return n;
        }
        s->ops->close(s->conn);
        s->conn = NULL;
        if (n == 0) {
            s->ended = 1;
            return 0;
        }
        if (n == CONN_PERMANENT) return fail(s, why);
        if (s->attempts > s->opts.retries) {
            char msg[480];
            snprintf(msg, sizeof msg, "%s (gave up after %d attempts, %llu bytes received)", why, s->attempts,
                     (unsigned long long)s->offset);
            return fail(s, msg);
        }
        double wait = s->opts.retry_wait;
        for (int i = 1; i < s->attempts; i++) wait *= 2;
        LOG_WARN("%s: %s at byte %llu; retry %d of %d in %.3g s", s->display, why,
                 (unsigned long long)s->offset, s->attempts, s->opts.retries, wait);
        for (; wait > 0 && !stopped(s); wait -= STREAM_CANCEL_POLL_MS / 1000.0)
            sleep_seconds(wait < STREAM_CANCEL_POLL_MS / 1000.0 ? wait : STREAM_CANCEL_POLL_MS / 1000.0);
        if (stopped(s)) return fail(s, "cancelled");
    }
}

int stream_probe(const char *source, const ws_stream_opts *opts, char *buf, size_t len) {
    ws_stream *s;
    int rc = stream_open(source, opts, &s);
    if (rc != WS_OK) return rc;
    s->head = 1;
    char byte;
    if (stream_read(s, &byte, 1) < 0) rc = ws_errorf(WS_ERR_IO, "HEAD request for its size, ETag and Last-Modified: %s",
                                                   stream_error(s));
    else snprintf(buf, len, "%s", s->validators[0] ? s->validators : "-\t-\t-");
    stream_close(s);
    return rc;
}

int stream_finish(ws_stream *s) {
    char buf[65536];
    ssize_t n;
    while ((n = stream_read(s, buf, sizeof buf)) > 0) {}
    return n == 0 ? WS_OK : -1;
}

void stream_cancel(ws_stream *s) { atomic_store(&s->cancelled, 1); }

const char *stream_error(const ws_stream *s) { return s->why; }

const char *stream_display(const ws_stream *s) { return s->display; }

void stream_close(ws_stream *s) {
    if (!s) return;
    if (s->conn) s->ops->close(s->conn);
    free(s->source);
    free(s->display);
    free(s);
}
