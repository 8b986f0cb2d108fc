/* HTTP(S) connections of streamed shards on libcurl: one transfer driven from the caller's thread
 * through the multi interface (no threads of its own), resumed with a Range request, or a HEAD
 * request for a probe (see stream_conn.h). */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/escape.h"
#include "data/stream_conn.h"

struct stream_conn {
    CURLM *multi;
    CURL *easy;
    char *buf;                 /* body bytes received and not yet read: [pos, len) */
    size_t pos, len, cap;
    uint64_t skip;             /* bytes still to drop (the server ignored the Range) */
    uint64_t offset;           /* the byte asked for */
    int started, done, nomem;
    int head, refused;         /* a HEAD request; the server refused HEAD (403, 405, 501) */
    double min_rate, window;   /* bytes/s the waits must see, over `window` s of waiting */
    double waited;             /* seconds waited for data in this window */
    uint64_t arrived;          /* bytes that came while waiting in this window */
    const atomic_int *cancel;
    int (*stop_requested)(void);
    CURLcode result;
    char range[32];
    char errbuf[CURL_ERROR_SIZE];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg) {
    stream_conn *c = arg;
    size_t n = size * nmemb;
    if (!c->started) {
        long code = 0;
        curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &code);
        c->skip = code == 206 ? 0 : c->offset;
        c->started = 1;
    }
    size_t drop = c->skip < n ? (size_t)c->skip : n;
    c->skip -= drop;
    data += drop;
    size_t keep = n - drop;
    if (!keep) return n;
    if (c->pos == c->len) c->pos = c->len = 0;
    if (c->len + keep > c->cap) {
        size_t cap = c->cap ? c->cap : 1 << 16;
        while (cap < c->len + keep) cap *= 2;
        char *b = realloc(c->buf, cap);
        if (!b) {
            c->nomem = 1;
            return 0;
        }
        c->buf = b;
        c->cap = cap;
    }
    memcpy(c->buf + c->len, data, keep);
    c->len += keep;
    return n;
}

static stream_conn *http_open(const char *source, uint64_t offset, const ws_stream_opts *opts, int head,
                              const atomic_int *cancel) {
    pthread_once(&curl_once, curl_init);
    stream_conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->offset = offset;
    c->head = head;
    c->min_rate = (double)opts->min_rate;
    c->window = opts->timeout < 1 ? 1 : opts->timeout;
    c->cancel = cancel;
    c->stop_requested = opts->stop_requested;
    if (curl_init_rc != CURLE_OK || !(c->multi = curl_multi_init()) || !(c->easy = curl_easy_init())) {
        c->done = 1;
        c->result = curl_init_rc != CURLE_OK ? curl_init_rc : CURLE_OUT_OF_MEMORY;
        return c;
    }
    long timeout = opts->timeout < 1 ? 1 : (long)opts->timeout;
    CURL *e = c->easy;
    curl_easy_setopt(e, CURLOPT_URL, source);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(e, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, timeout);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);        /* under 1 byte/s for `timeout` s */
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, timeout);    /* (min_rate: see wait_check) */
    if (head) curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "identity");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
    if (offset) {
        snprintf(c->range, sizeof c->range, "%llu-", (unsigned long long)offset);
        curl_easy_setopt(e, CURLOPT_RANGE, c->range);
    }
    if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
        c->done = 1;
        c->result = CURLE_OUT_OF_MEMORY;
    }
    return c;
}

/* A failure worth another attempt? Transfers that cannot go better are not: a certificate that
 * does not verify will not verify on the next attempt either. */
static int permanent(CURLcode rc) {
    switch (rc) {
    case CURLE_TOO_MANY_REDIRECTS: case CURLE_UNSUPPORTED_PROTOCOL: case CURLE_URL_MALFORMAT:
    case CURLE_OUT_OF_MEMORY: case CURLE_PEER_FAILED_VERIFICATION: case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM: case CURLE_SSL_ISSUER_ERROR: case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS: case CURLE_SSL_CRL_BADFILE:
        return 1;
    default:
        return 0;
    }
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The minimum rate, over the time a read waited for data only: curl's own speed limit would
 * also count the time the transfer sits unread while the consumer computes (a large model on a
 * CPU takes in less than 1 KiB/s of small images), and end a healthy connection. Tumbling
 * windows of `window` seconds of waiting, from the first body byte on (connecting and the first
 * byte have their own time limit); 0 when the rate is met so far. */
static int wait_check(stream_conn *c, double waited, size_t arrived, char *why, size_t whylen) {
    c->waited += waited;
    c->arrived += arrived;
    if (c->waited < c->window) return 0;
    int slow = (double)c->arrived < c->min_rate * c->waited;
    if (slow) snprintf(why, whylen, "too slow: %.0f bytes in %.3g s of waiting, under the --min-rate of %.0f bytes/s",
                       (double)c->arrived, c->waited, c->min_rate);
    c->waited = 0;
    c->arrived = 0;
    return slow;
}

static ssize_t http_read(stream_conn *c, void *buf, size_t cap, char *why, size_t whylen) {
    double t0 = c->started && c->pos == c->len && !c->done ? now_seconds() : -1;   /* after the first byte */
    while (c->pos == c->len && !c->done) {
        if (atomic_load(c->cancel) || (c->stop_requested && c->stop_requested())) {
            snprintf(why, whylen, "cancelled");
            return CONN_PERMANENT;
        }
        int running = 0, left = 0;
        if (curl_multi_perform(c->multi, &running) != CURLM_OK) {
            c->done = 1;
            c->result = CURLE_RECV_ERROR;
        }
        CURLMsg *m;
        while ((m = curl_multi_info_read(c->multi, &left)))
            if (m->msg == CURLMSG_DONE) c->done = 1, c->result = m->data.result;
        if (c->pos == c->len && !c->done && running)
            curl_multi_poll(c->multi, NULL, 0, STREAM_CANCEL_POLL_MS, NULL);
    }
    if (t0 >= 0 && c->pos < c->len && wait_check(c, now_seconds() - t0, c->len - c->pos, why, whylen))
        return CONN_RETRY;
    if (c->pos < c->len) {
        size_t n = c->len - c->pos < cap ? c->len - c->pos : cap;
        memcpy(buf, c->buf + c->pos, n);
        c->pos += n;
        return (ssize_t)n;
    }
    if (c->result == CURLE_OK) return 0;
    if (c->nomem) {
        snprintf(why, whylen, "out of memory receiving the body");
        return CONN_PERMANENT;
    }
    long code = 0;
    if (c->easy) curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &code);
    if (c->head && c->result == CURLE_HTTP_RETURNED_ERROR && (code == 403 || code == 405 || code == 501)) {
        c->refused = 1;   /* HEAD not allowed: a probe finds no validators */
        return 0;
    }
    const char *msg = c->errbuf[0] ? c->errbuf : curl_easy_strerror(c->result);
    if (c->result == CURLE_HTTP_RETURNED_ERROR) snprintf(why, whylen, "HTTP status %ld", code);
    else snprintf(why, whylen, "%s", msg);
    return permanent(c->result) ? CONN_PERMANENT : CONN_RETRY;
}

/* The last response's header `name` escaped into out, or "-". */
static void header_field(CURL *e, const char *name, char *out, size_t len) {
    struct curl_header *h = NULL;
    char *v = curl_easy_header(e, name, 0, CURLH_HEADER, -1, &h) == CURLHE_OK ? ws_escape_bytes(h->value) : NULL;
    snprintf(out, len, "%s", v && *v ? v : "-");
    free(v);
}

static void http_validators(stream_conn *c, char *buf, size_t len) {
    char size[32] = "-", etag[256], modified[128], range[128];
    if (c->refused || !c->easy) {
        snprintf(buf, len, "-\t-\t-");
        return;
    }
    header_field(c->easy, "ETag", etag, sizeof etag);
    header_field(c->easy, "Last-Modified", modified, sizeof modified);
    header_field(c->easy, "Content-Range", range, sizeof range);   /* "bytes 100-199/200": whole 200 */
    long code = 0;
    curl_off_t n = -1;
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(c->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &n);
    const char *total = strchr(range, '/');
    if (code == 206 && total && total[1] >= '0' && total[1] <= '9') snprintf(size, sizeof size, "%.30s", total + 1);
    else if (code != 206 && n >= 0) snprintf(size, sizeof size, "%lld", (long long)n);
    snprintf(buf, len, "%s\t%s\t%s", size, etag, modified);
}

static void http_close(stream_conn *c) {
    if (!c) return;
    if (c->multi && c->easy) curl_multi_remove_handle(c->multi, c->easy);
    if (c->easy) curl_easy_cleanup(c->easy);
    if (c->multi) curl_multi_cleanup(c->multi);
    free(c->buf);
    free(c);
}

const stream_conn_ops stream_conn_http = {.open = http_open, .read = http_read, .validators = http_validators,
                                          .close = http_close};
