/* Prefetch pipeline: one reader thread, a pool of decode workers, a ring of `depth` batch slots
 * (see pipeline.h). Slot life: FREE -> FILLING (reader adds samples, workers process them as they
 * come) -> handed to the consumer once the reader closed it and every item is done -> FREE again
 * on the consumer's next call. */
#define _GNU_SOURCE   /* pthread_timedjoin_np */
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "common/log.h"
#include "data/image_status.h"
#include "data/pipeline.h"
#include "data/preprocess.h"
#include "data/shard_reader.h"

typedef struct {
    ws_batch b;
    ws_sample *raw;      /* [B] samples as read, consumed by the workers */
    int busy;            /* taken by the reader (until handed back by the consumer) */
    int held;            /* handed to the consumer, not yet given back */
    int filled;          /* the reader added its last sample */
    int done;            /* items processed */
} slot;

struct ws_pipeline {
    const ws_shard *shard;
    ws_pipeline_params prm;
    ws_preprocess pre;
    int R, B, depth, nthreads;
    size_t plane;                  /* 3 * R * R */
    ws_shard_reader *reader;
    slot *slots;
    int *queue;                    /* ring of item ids (slot * B + index), capacity depth * B */
    size_t q_head, q_count;
    size_t n_filled, head;         /* slots filled by the reader so far; next slot to hand out */
    slot *held;                    /* without hold: the slot the consumer has, given back at its
                                    * next call */
    int stop, reader_done, damaged;
    const char *why;
    size_t images, failures;
    double read_seconds, decode_seconds;  /* summed over the reader / the workers (under mu) */
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_ready, cv_space;
    pthread_t reader_thread, *workers;
    int started_workers, started_reader;
    ws_batch end;
};

void pipeline_params_default(ws_pipeline_params *p) {
    memset(p, 0, sizeof *p);
    p->pre = (ws_preprocess){WS_PREPROCESS_CROP, 256, 224, {0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}};
    p->batch = 32;
    p->threads = 2;
    p->depth = 2;
    p->decode.max_pixels = WS_DEFAULT_MAX_PIXELS;
    stream_opts_default(&p->stream);
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void pipeline_notify_init(ws_pipeline_notify *n) {
    pthread_mutex_init(&n->mu, NULL);
    pthread_cond_init(&n->cv, NULL);
    n->seq = 0;
}

void pipeline_notify_destroy(ws_pipeline_notify *n) {
    pthread_mutex_destroy(&n->mu);
    pthread_cond_destroy(&n->cv);
}

unsigned long pipeline_notify_seq(ws_pipeline_notify *n) {
    pthread_mutex_lock(&n->mu);
    unsigned long v = n->seq;
    pthread_mutex_unlock(&n->mu);
    return v;
}

void pipeline_notify_wait(ws_pipeline_notify *n, unsigned long seq, double seconds) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    long ns = until.tv_nsec + (long)(seconds * 1e9);
    until.tv_sec += ns / 1000000000L;
    until.tv_nsec = ns % 1000000000L;
    pthread_mutex_lock(&n->mu);
    while (n->seq == seq && pthread_cond_timedwait(&n->cv, &n->mu, &until) == 0) {}
    pthread_mutex_unlock(&n->mu);
}

/* A batch or the end is ready (called under p->mu): the consumer waiting in next_batch, and the
 * one waiting on several pipelines, are woken. */
static void signal_ready(ws_pipeline *p) {
    pthread_cond_broadcast(&p->cv_ready);
    ws_pipeline_notify *n = p->prm.notify;
    if (!n) return;
    pthread_mutex_lock(&n->mu);
    n->seq++;
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
}

static void push_item(ws_pipeline *p, int id) {
    size_t cap = (size_t)p->depth * p->B;
    p->queue[(p->q_head + p->q_count++) % cap] = id;
    pthread_cond_signal(&p->cv_work);
}

static void *reader_main(void *arg) {
    ws_pipeline *p = arg;
    size_t first = 0;
    for (size_t seq = 0;; seq++) {
        slot *s = &p->slots[seq % p->depth];
        pthread_mutex_lock(&p->mu);
        while (s->busy && !p->stop) pthread_cond_wait(&p->cv_space, &p->mu);
        if (p->stop) { pthread_mutex_unlock(&p->mu); break; }
        s->busy = 1; s->filled = 0; s->done = 0; s->b.n = 0; s->b.first = first;
        pthread_mutex_unlock(&p->mu);
        int eof = 0;
        double t0 = now_seconds();
        while (s->b.n < p->B && !eof) {
            ws_sample *smp = &s->raw[s->b.n];
            if (!shard_reader_next(p->reader, smp)) { eof = 1; break; }
            pthread_mutex_lock(&p->mu);
            push_item(p, (int)((seq % p->depth) * p->B + s->b.n));
            s->b.n++;
            int stop = p->stop;
            pthread_mutex_unlock(&p->mu);
            if (stop) break;
        }
        first += (size_t)s->b.n;
        double t1 = now_seconds();
        pthread_mutex_lock(&p->mu);
        p->read_seconds += t1 - t0;
        s->filled = 1;
        p->n_filled++;
        if (eof) {
            p->reader_done = 1;
            p->damaged = shard_reader_damaged(p->reader, &p->why);
            if (p->damaged)
                LOG_WARN("%s: shard damaged after %zu samples, the rest is lost: %s",
                         p->shard->name, first, p->why);
            pthread_cond_broadcast(&p->cv_work);
        }
        signal_ready(p);
        int stop = p->stop;
        pthread_mutex_unlock(&p->mu);
        if (eof || stop) break;
    }
    pthread_mutex_lock(&p->mu);
    p->reader_done = 1;
    pthread_cond_broadcast(&p->cv_work);
    signal_ready(p);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Decode and preprocess one sample into its batch row, through the worker's image buffer `img`
 * (reused from image to image); failures become a status and a log line. */
static void process_item(ws_pipeline *p, slot *s, int i, ws_image *img) {
    ws_sample *smp = &s->raw[i];
    float *px = s->b.pixels ? s->b.pixels + (size_t)i * p->plane : NULL;
    uint8_t *u8 = s->b.u8 ? s->b.u8 + (size_t)i * p->plane : NULL;
    int8_t st = smp->status;
    const char *reason = smp->reason;
    if (st == WS_IMG_OK) {
        int rc = image_decode_into(smp->data, smp->size, &p->prm.decode, img);
        if (rc >= 0) rc = preprocess_image(img, &p->pre, u8, px);
        st = image_status_from_err(rc);
        reason = ws_error_message();
    }
    s->b.keys[i] = smp->key;
    s->b.status[i] = st;
    smp->key = NULL;
    sample_free(smp);
    if (st != WS_IMG_OK) {
        if (px) memset(px, 0, p->plane * sizeof *px);
        if (u8) memset(u8, 0, p->plane);
        LOG_WARN("%s: %s: %s (%s)", p->shard->name, s->b.keys[i] ? s->b.keys[i] : "?",
                 image_status_name(st), reason);
    }
}

static void *worker_main(void *arg) {
    ws_pipeline *p = arg;
    size_t cap = (size_t)p->depth * p->B;
    ws_image img = {0};
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->q_count && !p->stop && !p->reader_done) pthread_cond_wait(&p->cv_work, &p->mu);
        if (p->stop || !p->q_count) break;
        int id = p->queue[p->q_head];
        p->q_head = (p->q_head + 1) % cap;
        p->q_count--;
        pthread_mutex_unlock(&p->mu);
        slot *s = &p->slots[id / p->B];
        double t0 = now_seconds();
        process_item(p, s, id % p->B, &img);
        double t1 = now_seconds();
        pthread_mutex_lock(&p->mu);
        p->decode_seconds += t1 - t0;
        s->done++;
        if (s->filled && s->done == s->b.n) signal_ready(p);
    }
    pthread_mutex_unlock(&p->mu);
    image_free(&img);
    return NULL;
}

/* Give slot s back to the reader (under p->mu). */
static void slot_release(ws_pipeline *p, slot *s) {
    for (int i = 0; i < s->b.n; i++) { free(s->b.keys[i]); s->b.keys[i] = NULL; }
    s->held = 0;
    s->busy = 0;
    pthread_cond_broadcast(&p->cv_space);
}

void pipeline_release(ws_pipeline *p, const ws_batch *b) {
    if (!p || !b || b == &p->end) return;
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < p->depth; i++)
        if (&p->slots[i].b == b && p->slots[i].held) slot_release(p, &p->slots[i]);
    pthread_mutex_unlock(&p->mu);
}

static void *buf_alloc(const ws_pipeline_params *prm, size_t bytes) {
    return prm->buf_alloc ? prm->buf_alloc(prm->buf_ctx, bytes) : malloc(bytes);
}

static void buf_free(const ws_pipeline_params *prm, void *ptr) {
    if (!ptr) return;
    if (prm->buf_free) prm->buf_free(prm->buf_ctx, ptr);
    else free(ptr);
}

static void keep_freed_memory(void) {
    mallopt(M_MMAP_THRESHOLD, 256 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

void pipeline_malloc_setup(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, keep_freed_memory);
}

int pipeline_open(const ws_shard *shard, const ws_pipeline_params *prm, ws_pipeline **out) {
    *out = NULL;
    pipeline_malloc_setup();
    ws_preprocess pre = prm->pre;
    if (prm->resolution > 0) pre.crop = prm->resolution;
    if (prm->batch < 1 || prm->threads < 1 || pre.crop < 1 || pre.crop > PIPELINE_MAX_RESOLUTION ||
        (pre.mode == WS_PREPROCESS_CROP && (pre.resize < 1 || pre.resize > PIPELINE_MAX_RESIZE)))
        return ws_errorf(WS_ERR_ARG, "pipeline: bad parameters (batch %d, threads %d, resize %d, "
                         "resolution %d)", prm->batch, prm->threads, pre.resize, pre.crop);
    for (int c = 0; c < 3; c++)
        if (!(pre.std[c] != 0.0f)) return ws_errorf(WS_ERR_ARG, "pipeline: std[%d] is zero", c);
    ws_pipeline *p = calloc(1, sizeof *p);
    if (!p) return ws_errorf(WS_ERR_NOMEM, "out of memory");
    p->shard = shard;
    p->prm = *prm;
    p->pre = pre;
    p->R = pre.crop;
    p->B = prm->batch;
    p->depth = (prm->depth > 0 ? prm->depth : 2) + (prm->hold ? 1 : 0);
    p->nthreads = prm->threads;
    p->plane = (size_t)3 * p->R * p->R;
    p->prm.decode.fast_min_side = prm->fast_decode ? (pre.mode == WS_PREPROCESS_CROP ? pre.resize : p->R) : 0;
    p->prm.decode.region = preprocess_source_region;   /* JPEG: decode only what the crop reads */
    p->prm.decode.region_ctx = &p->pre;
    p->end.R = p->R;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv_work, NULL);
    pthread_cond_init(&p->cv_ready, NULL);
    pthread_cond_init(&p->cv_space, NULL);
    int rc = shard_reader_open(shard, &prm->stream, prm->image_exts, &p->reader);
    if (rc < 0) { pipeline_close(p); return rc; }
    p->slots = calloc((size_t)p->depth, sizeof *p->slots);
    p->queue = malloc((size_t)p->depth * p->B * sizeof *p->queue);
    p->workers = calloc((size_t)p->nthreads, sizeof *p->workers);
    int ok = p->slots && p->queue && p->workers;
    for (int i = 0; ok && i < p->depth; i++) {
        slot *s = &p->slots[i];
        s->b.R = p->R;
        s->raw = calloc((size_t)p->B, sizeof *s->raw);
        s->b.keys = calloc((size_t)p->B, sizeof *s->b.keys);
        s->b.status = calloc((size_t)p->B, 1);
        const int want_u8 = prm->keep_u8 || prm->u8_only;
        if (!prm->u8_only) s->b.pixels = buf_alloc(prm, (size_t)p->B * p->plane * sizeof(float));
        if (want_u8) s->b.u8 = buf_alloc(prm, (size_t)p->B * p->plane);
        ok = s->raw && s->b.keys && s->b.status && (prm->u8_only || s->b.pixels) && (!want_u8 || s->b.u8);
    }
    if (!ok) { pipeline_close(p); return ws_errorf(WS_ERR_NOMEM, "out of memory for the batches of %s", shard->name); }
    for (int i = 0; i < p->nthreads; i++) {
        if (pthread_create(&p->workers[i], NULL, worker_main, p) != 0) break;
        p->started_workers++;
    }
    if (p->started_workers < p->nthreads || pthread_create(&p->reader_thread, NULL, reader_main, p) != 0) {
        pipeline_close(p);
        return ws_errorf(WS_ERR_NOMEM, "cannot start the decoding threads for %s", shard->name);
    }
    p->started_reader = 1;
    *out = p;
    return WS_OK;
}

const ws_batch *pipeline_next_batch(ws_pipeline *p) {
    pthread_mutex_lock(&p->mu);
    if (p->held) {
        slot_release(p, p->held);
        p->held = NULL;
    }
    for (;;) {
        slot *s = &p->slots[p->head % p->depth];
        if (p->head < p->n_filled && s->done == s->b.n) {
            p->head++;
            if (s->b.n == 0) { s->busy = 0; break; }   /* empty last slot: the end */
            s->held = 1;
            if (!p->prm.hold) p->held = s;
            p->images += (size_t)s->b.n;
            for (int i = 0; i < s->b.n; i++) p->failures += s->b.status[i] != WS_IMG_OK;
            pthread_mutex_unlock(&p->mu);
            return &s->b;
        }
        if (p->reader_done && p->head >= p->n_filled) break;
        if (!p->prm.stop_requested) {
            pthread_cond_wait(&p->cv_ready, &p->mu);
            continue;
        }
        if (p->prm.stop_requested()) break;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 100000000L;
        if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&p->cv_ready, &p->mu, &until);
    }
    pthread_mutex_unlock(&p->mu);
    return &p->end;
}

int pipeline_batch_ready(ws_pipeline *p) {
    pthread_mutex_lock(&p->mu);
    slot *s = &p->slots[p->head % p->depth];
    int ready = (p->head < p->n_filled && s->done == s->b.n) || (p->reader_done && p->head >= p->n_filled);
    pthread_mutex_unlock(&p->mu);
    return ready;
}

int pipeline_damaged(ws_pipeline *p, const char **why) {
    pthread_mutex_lock(&p->mu);
    int d = p->damaged;
    if (why) *why = p->why;
    pthread_mutex_unlock(&p->mu);
    return d;
}

size_t pipeline_images(const ws_pipeline *p) { return p->images; }
size_t pipeline_failures(const ws_pipeline *p) { return p->failures; }

void pipeline_seconds(ws_pipeline *p, double *read_seconds, double *decode_seconds) {
    pthread_mutex_lock(&p->mu);
    *read_seconds = p->read_seconds;
    *decode_seconds = p->decode_seconds;
    pthread_mutex_unlock(&p->mu);
}

/* Join the reader, waiting at most a second. */
static int reader_joined(ws_pipeline *p) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 1;
    return pthread_timedjoin_np(p->reader_thread, NULL, &until) == 0;
}

void pipeline_close(ws_pipeline *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->cv_work);
    pthread_cond_broadcast(&p->cv_space);
    pthread_cond_broadcast(&p->cv_ready);
    pthread_mutex_unlock(&p->mu);
    if (p->reader) shard_reader_cancel(p->reader);   /* a read waiting on a network or a command */
    for (int i = 0; i < p->started_workers; i++) pthread_join(p->workers[i], NULL);
    if (p->started_reader && !reader_joined(p)) {
        LOG_WARN("%s: the reader thread is blocked (in a read or open that does not return); left behind",
                 p->shard->name);
        pthread_detach(p->reader_thread);
        return;   /* the reader still uses p: it is not freed */
    }
    for (int i = 0; p->slots && i < p->depth; i++) {
        slot *s = &p->slots[i];
        for (int k = 0; s->raw && k < p->B; k++) sample_free(&s->raw[k]);
        if (s->b.keys) for (int k = 0; k < p->B; k++) free(s->b.keys[k]);
        free(s->raw); free(s->b.keys); free(s->b.status);
        buf_free(&p->prm, s->b.pixels);
        buf_free(&p->prm, s->b.u8);
    }
    shard_reader_close(p->reader);
    free(p->slots); free(p->queue); free(p->workers);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv_work);
    pthread_cond_destroy(&p->cv_ready);
    pthread_cond_destroy(&p->cv_space);
    free(p);
}
