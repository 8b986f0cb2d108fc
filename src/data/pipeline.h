/* The prefetch pipeline of one shard: a reader thread streams samples from the shard, a pool of
 * worker threads decodes and preprocesses them, and ready batches wait in a bounded ring of
 * `depth` batches (one more with params.hold), returned in input order by pipeline_next_batch().
 * The workers write each finished, preprocessed row straight into its batch's buffer, the one
 * the consumer (the model) reads. Memory is bounded by depth * batch * (one compressed image +
 * its R*R*3 floats or bytes) whatever the shard size.
 * Every sample yields one row: a failed image has status != 0, zero pixels, and a log line
 * "<shard>: <key>: <reason>" (warn level). The pipeline never aborts on bad input. */
#ifndef WEBSSL_DATA_PIPELINE_H
#define WEBSSL_DATA_PIPELINE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "data/decode.h"
#include "data/input_spec.h"
#include "data/stream.h"
#include "common/arch.h"

/* Largest output side and resize target the pipeline accepts (the --resolution and --resize
 * bounds of every command; common/arch.h, where model configurations are checked against them). */
enum { PIPELINE_MAX_RESOLUTION = WS_MAX_RESOLUTION, PIPELINE_MAX_RESIZE = WS_MAX_RESIZE };

/* A consumer of several pipelines sleeps on one of these until any of them has a batch ready
 * (params.notify), instead of polling each. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned long seq;    /* bumped at every signal */
} ws_pipeline_notify;

void pipeline_notify_init(ws_pipeline_notify *n);
void pipeline_notify_destroy(ws_pipeline_notify *n);
/* The current sequence number: take it before checking the pipelines, then wait with it. */
unsigned long pipeline_notify_seq(ws_pipeline_notify *n);
/* Block until a signal after `seq` (returns at once when one came already) or `seconds` pass. */
void pipeline_notify_wait(ws_pipeline_notify *n, unsigned long seq, double seconds);

typedef struct {
    ws_preprocess pre;    /* mode, resize, mean, std (from ws_arch.preprocess or flags) */
    int resolution;       /* R: output side; overrides pre.crop when > 0 */
    int batch;            /* B: images per batch (>= 1) */
    int threads;          /* decoding worker threads (>= 1) */
    int depth;            /* ready batches kept ahead (>= 1; 0 = default 2) */
    ws_decode_opts decode;/* pixel limit and exif flag (fast_min_side is set from fast_decode) */
    int fast_decode;      /* 1: JPEG DCT-domain downscaling when the image is far larger than
                           * needed (not pixel-exact; see docs/images.md) */
    ws_stream_opts stream;/* retries, timeout and size cap of streamed shards */
    const char *image_exts; /* tar samples: extensions the image is taken from, in order of
                           * preference (data/wds_name.h); NULL: the default */
    int keep_u8;          /* 1: also return the uint8 R x R x 3 images (for `preprocess`) */
    int u8_only;          /* 1: return only the uint8 images, no floats (pixels NULL): for a
                           * backend that normalises them itself (4x less to upload) */
    int (*stop_requested)(void); /* optional: polled while waiting for a batch (non-zero: stop) */
    int hold;             /* 1: a batch stays the caller's until pipeline_release (not only until
                           * the next call), e.g. while a device reads it; the ring gets one more
                           * slot, so decoding goes on while the caller holds two */
    /* Optional: where the batches' pixels and u8 images live, e.g. the backend's pinned host
     * memory, so that the rows the workers write are the ones a device uploads (no copy);
     * NULL: malloc/free. */
    void *(*buf_alloc)(void *ctx, size_t bytes);
    void (*buf_free)(void *ctx, void *ptr);
    void *buf_ctx;
    ws_pipeline_notify *notify; /* optional: signalled whenever a batch or the end is ready */
} ws_pipeline_params;

/* Defaults: ImageNet crop 256 -> 224, B 32, 2 threads, Pillow's pixel limit. */
void pipeline_params_default(ws_pipeline_params *p);

typedef struct {
    int n;                /* images in this batch (<= B); 0 means the shard is finished */
    size_t first;         /* index of the first image in the shard */
    char **keys;          /* [n] sample keys */
    int8_t *status;       /* [n] ws_image_status */
    float *pixels;        /* [n, 3, R, R] normalised; zeros where status != 0; NULL when u8_only */
    uint8_t *u8;          /* [n, R, R, 3] when keep_u8 or u8_only (zeros where status != 0),
                           * else NULL */
    int R;
} ws_batch;

typedef struct ws_pipeline ws_pipeline;

/* Once per process (pipeline_open calls it): freed memory stays with the process for the next
 * image. glibc by default maps blocks over 128 KiB (a decoded web-size image, libjpeg's row
 * buffers, the resize's intermediate rows) afresh and returns the top of each heap to the kernel
 * when it is free, so every image faults its pages in again; with blocks up to 256 MiB taken
 * from the heaps and no trimming below 1 GiB, a decoding thread reuses the same pages from image
 * to image. The cost: the process keeps its peak heap until it exits. */
void pipeline_malloc_setup(void);

/* Open the shard and start the threads. WS_OK, or an error when the shard cannot be opened
 * (WS_ERR_IO) or the parameters are bad (WS_ERR_ARG); nothing is started then. */
int pipeline_open(const ws_shard *shard, const ws_pipeline_params *params, ws_pipeline **out);
/* The next batch in input order, valid until the next call (with params.hold: until
 * pipeline_release) or pipeline_close. Blocks until it is
 * ready, or until params.stop_requested() says stop (polled every 100 ms): then it returns the
 * end marker at once, whatever the reader thread is doing (a read blocked in the kernel), and
 * the caller, which knows about the stop, treats the shard as stopped. Returns NULL only on
 * allocation failure; a batch with n == 0 marks the end. */
const ws_batch *pipeline_next_batch(ws_pipeline *p);
/* With params.hold: give batch `b` (from pipeline_next_batch) back for reuse. The end marker and
 * NULL are ignored. */
void pipeline_release(ws_pipeline *p, const ws_batch *b);
/* 1 when pipeline_next_batch would return without blocking (a batch or the end is ready). */
int pipeline_batch_ready(ws_pipeline *p);
/* After the end: 1 when the shard ended on damage (why says how), else 0. */
int pipeline_damaged(ws_pipeline *p, const char **why);
/* Images and failures so far. */
size_t pipeline_images(const ws_pipeline *p);
size_t pipeline_failures(const ws_pipeline *p);
/* Seconds so far summed over the threads: the reader inside the shard reader (file and tar I/O),
 * the workers decoding and preprocessing. They overlap each other and the consumer's work. */
void pipeline_seconds(ws_pipeline *p, double *read_seconds, double *decode_seconds);
/* Stop the threads (also mid-shard, e.g. on a signal) and free everything. NULL is fine. A
 * reader thread that does not return within a second (blocked in a read or open that never
 * completes) is detached and the pipeline's memory left to it, so closing never hangs. */
void pipeline_close(ws_pipeline *p);

#endif
