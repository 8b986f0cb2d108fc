/* The shard loop of `embed`: TP leaders claim shards, read/decode them through the pipeline (a
 * few shards at once, so one slow source does not stall the rest), hand each batch to their TP
 * peers, run the forward pass and write the shard file; peers follow the leader's commands
 * (protocol in embed_run.h). */
#include "driver/embed_run.h"
#include "driver/embed_signal.h"
#include "driver/resume.h"
#include "common/check.h"
#include "common/log.h"
#include "data/image_status.h"
#include "io/run_dir.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { CMD_NONE = 0, CMD_BATCH, CMD_SHARD_END, CMD_FINISH };
/* SHARD_LEFT: not written for a full file system, left for a rerun (neither done nor failed). */
enum { SHARD_DONE, SHARD_SKIPPED, SHARD_FAILED, SHARD_STOPPED, SHARD_LEFT };

typedef struct {
    int64_t cmd, n, shard, stop;
} tp_header;

/* Agree on the next step inside the TP group (see embed_run.h). */
static void tp_agree(embed_run *r, tp_header *h) {
    h->stop = h->stop || embed_signal_pending();
    if (r->topo.tp == 1) return;
    int64_t v[4] = {h->cmd, h->n, h->shard, h->stop}, out[4];
    MPI_CHECK(MPI_Allreduce(v, out, 4, MPI_INT64_T, MPI_MAX, r->topo.tp_comm));
    h->cmd = out[0], h->n = out[1], h->shard = out[2], h->stop = out[3];
}

/* Every rank of the group: the batch's images (uint8 or floats, r->u8) in px (the leader's; the
 * peers receive them into it) sent to the TP peers, uploaded (asynchronously; as uint8
 * normalised on the device) and the forward pass submitted on input slot `slot`. */
static void group_submit(embed_run *r, int n, int slot, void *px, embed_times *t) {
    double t0 = MPI_Wtime();
    if (comm_broadcast(r->bcast, px, (size_t)n * r->image_bytes, 0) != WS_OK)
        ws_fatal(__FILE__, __LINE__, "sending a batch to the TP group: %s", ws_error_message());
    double t1 = MPI_Wtime(), c0 = r->dev.comm->comm_seconds;
    ws_features f = {r->cls, (r->layout.features & WS_FEAT_PATCH_MEAN) ? r->patch_mean : NULL,
                     (r->layout.features & WS_FEAT_PATCH) ? r->patch : NULL};
    const ws_preprocess *pre = &r->pp.pre;
    int rc = ws_model_upload(r->model, slot, r->u8 ? NULL : px, r->u8 ? px : NULL, pre->mean, pre->std, n, r->R);
    if (rc == WS_OK) rc = ws_model_submit(r->model, slot, &f);
    if (rc != WS_OK) ws_fatal(__FILE__, __LINE__, "forward pass: %s", ws_error_message());
    t->scatter += t1 - t0;
    t->compute += MPI_Wtime() - t1;
    t->comm += r->dev.comm->comm_seconds - c0;
    t->images += n;
    t->batches++;
}

/* Every rank: wait for the pass submitted on `slot`; its outputs land in r->cls, r->patch_mean,
 * r->patch. */
static void group_collect(embed_run *r, int slot, embed_times *t) {
    double t0 = MPI_Wtime();
    if (ws_model_collect(r->model, slot) != WS_OK) ws_fatal(__FILE__, __LINE__, "forward pass: %s", ws_error_message());
    t->compute += MPI_Wtime() - t0;
}

/* Leader: the DINO head on the batch's CLS tokens (every rank of the group holds the full CLS
 * after the forward pass, so the head needs no communication). Counted as compute. */
static void leader_head(embed_run *r, int n, embed_times *t) {
    if (!r->has_head) return;
    double t0 = MPI_Wtime();
    int rc = head_forward(&r->head, r->cls, n, r->z);
    if (rc == WS_OK && (r->layout.features & WS_FEAT_PROTO))
        rc = head_protos(&r->head, r->z, n, r->proto_index, r->proto_score);
    if (rc != WS_OK) ws_fatal(__FILE__, __LINE__, "DINO head: %s", ws_error_message());
    t->compute += MPI_Wtime() - t0;
}

/* Rows of failed images carry zero features (proto_index -1, proto_score 0). */
static void zero_failed_rows(embed_run *r, int n, const int8_t *status) {
    size_t D = (size_t)r->layout.D, PD = (size_t)r->layout.P * D, K = (size_t)r->layout.K;
    for (int i = 0; i < n; i++) {
        if (!status[i]) continue;
        memset(r->cls + i * D, 0, D * sizeof(float));
        memset(r->patch_mean + i * D, 0, D * sizeof(float));
        if (r->layout.features & WS_FEAT_PATCH) memset(r->patch + i * PD, 0, PD * sizeof(float));
        if (r->has_head) {
            memset(r->z + i * K, 0, K * sizeof(float));
            r->proto_index[i] = -1;
            r->proto_score[i] = 0;
        }
    }
}

static void record_failed(embed_run *r, int64_t idx) {
    if (r->num_failed == r->cap_failed) {
        size_t cap = r->cap_failed ? 2 * r->cap_failed : 16;
        int64_t *p = realloc(r->failed, cap * sizeof *p);
        if (!p) ws_fatal(__FILE__, __LINE__, "out of memory recording failed shards");
        r->failed = p;
        r->cap_failed = cap;
    }
    r->failed[r->num_failed++] = idx;
}

static void show_progress(embed_run *r, int final) {
    if (r->topo.world_rank != 0) return;
    int64_t c[EQ_COUNT];
    embed_queue_snapshot(&r->queue, c);
    embed_progress_show(&r->progress, c, final);
}

/* A shard the leader works on: its pipeline (reading ahead), its temporary output file and the
 * manifest of its inputs taken when it was opened (checked again when it closes). */
typedef struct {
    int64_t idx;
    ws_pipeline *p;
    ws_h5_writer *w;
    ws_manifest manifest;
    embed_times t;
    int write_failed;   /* a batch's rows could not be written: the shard fails */
    int no_space;       /* ... because the file system is full: the shard is left for a rerun */
    int64_t retry_rows; /* rows of status WS_IMG_RETRY: the file is written, the shard counts as failed */
} open_shard;

/* Leader: the batch whose pass is submitted and not yet collected. The pipeline's batch itself
 * (pipelines run with params.hold): the device reads its pixels, the rows are written with its
 * keys and statuses, and it goes back to the pipeline once written. */
typedef struct {
    open_shard *o;      /* its shard (open until the batch is written: flushed before any close) */
    const ws_batch *b;  /* NULL: none */
    int slot;
} in_flight;

enum { SHARD_OPEN = SHARD_LEFT + 1, SHARD_RUNNING };

/* A shard file could not be created, written or finished (rc, message current): logged; a full
 * file system (WS_ERR_NOSPACE) is raised job-wide, once, so that no group takes a new shard. */
static void write_failed(embed_run *r, const ws_shard *s, int rc) {
    LOG_ERROR("shard %s: %s", s->name, ws_error_message());
    if (rc == WS_ERR_NOSPACE && embed_queue_add(&r->queue, EQ_NO_SPACE, 1) == 0)
        LOG_ERROR("%s: No space left on device: taking no new shard; finished shards are kept, the rest "
                  "are left for a rerun once space is freed", r->opt.output);
}

static int no_space(embed_run *r) { return embed_queue_get(&r->queue, EQ_NO_SPACE) > 0; }

/* Leader: the existence check, then the pipeline and the temporary file. SHARD_OPEN with `o`
 * filled, SHARD_SKIPPED when the output is complete, SHARD_LEFT when the file system is full, or
 * SHARD_FAILED. */
static int shard_open(embed_run *r, int64_t idx, open_shard *o) {
    const ws_shard *s = &r->shards.shards[idx];
    char final[4096], tmp[4096];
    memset(o, 0, sizeof *o);
    o->idx = idx;
    if (run_dir_shard_path(r->opt.output, s->name, final, sizeof final) != WS_OK ||
        run_dir_tmp_path(r->opt.output, s->name, r->tmp_tag, tmp, sizeof tmp) != WS_OK) {
        LOG_ERROR("shard %s: %s", s->name, ws_error_message());
        return SHARD_FAILED;
    }
    ws_manifest *manifest = &o->manifest;
    if (shard_manifest_build(s, &r->pp.stream, manifest) != WS_OK) {   /* any earlier output is kept */
        LOG_ERROR("shard %s (%s): %s", s->name, s->display, ws_error_message());
        return SHARD_FAILED;
    }
    int64_t count = 0;
    resume_verdict v = resume_check_shard(final, &r->layout, s, manifest, &count);
    if (v == RESUME_REDO && resume_inputs_present(s, manifest) != WS_OK) {
        LOG_ERROR("shard %s: %s", s->name, ws_error_message());
        v = RESUME_FAIL;
    }
    if (v != RESUME_REDO) {
        if (v == RESUME_SKIP) LOG_DEBUG("shard %s: already complete (%lld images), skipped", s->name, (long long)count);
        shard_manifest_free(manifest);
        return v == RESUME_SKIP ? SHARD_SKIPPED : SHARD_FAILED;
    }
    int rc;
    if ((rc = pipeline_open(s, &r->pp, &o->p)) != WS_OK) {
        LOG_ERROR("shard %s (%s): %s", s->name, s->display, ws_error_message());
        shard_manifest_free(manifest);
        return SHARD_FAILED;
    }
    r->meta.source = s->display;
    r->meta.manifest = manifest->text;
    r->meta.manifest_digest = manifest->digest;
    rc = h5_writer_open(final, tmp, &r->layout, &r->meta, &o->w);
    r->meta.manifest = r->meta.manifest_digest = NULL;
    if (rc != WS_OK) {
        write_failed(r, s, rc);
        pipeline_close(o->p);
        shard_manifest_free(manifest);
        return rc == WS_ERR_NOSPACE ? SHARD_LEFT : SHARD_FAILED;
    }
    return SHARD_OPEN;
}

/* Leader: collect the batch in flight (if any), run the head on it and append its rows to its
 * shard's file (a failure marks that shard failed); then nothing is in flight. */
static void flush_in_flight(embed_run *r, in_flight *f) {
    const ws_batch *b = f->b;
    if (!b) return;
    open_shard *o = f->o;
    embed_times *t = &o->t;
    group_collect(r, f->slot, t);
    leader_head(r, b->n, t);
    zero_failed_rows(r, b->n, b->status);
    double t1 = MPI_Wtime();
    ws_h5_rows rows = {(const char *const *)b->keys, b->status, r->cls, r->patch_mean, r->patch, r->z,
                       r->proto_index, r->proto_score};
    int rc = o->write_failed ? WS_OK : h5_writer_append(o->w, b->n, &rows);
    t->write += MPI_Wtime() - t1;
    int failed_images = 0;
    for (int i = 0; i < b->n; i++) {
        failed_images += b->status[i] != 0;
        o->retry_rows += b->status[i] == WS_IMG_RETRY;
    }
    embed_queue_add(&r->queue, EQ_IMAGES, b->n);
    if (failed_images) embed_queue_add(&r->queue, EQ_IMAGES_FAILED, failed_images);
    if (rc != WS_OK) {
        write_failed(r, &r->shards.shards[o->idx], rc);
        o->write_failed = 1;
        o->no_space = rc == WS_ERR_NOSPACE;
    }
    pipeline_release(o->p, b);
    f->b = NULL;
    show_progress(r, 0);
}

/* Leader: the shard's next batch through the TP group: its pass submitted on the next input
 * slot, straight from the pipeline's batch (on device backends the pipeline's buffers are the
 * backend's pinned host memory: nothing is copied), then the batch before it (maybe another
 * shard's) collected, written and given back while this one runs. SHARD_RUNNING, or how the
 * shard ends: SHARD_DONE (its last batch), SHARD_FAILED or SHARD_STOPPED; the caller flushes
 * the batch in flight before it closes a shard. */
static int shard_step(embed_run *r, open_shard *o, in_flight *f) {
    const ws_shard *s = &r->shards.shards[o->idx];
    embed_times *t = &o->t;
    if (o->write_failed) return SHARD_FAILED;
    double t0 = MPI_Wtime();
    const ws_batch *b = pipeline_next_batch(o->p);
    t->input_wait += MPI_Wtime() - t0;
    if (!b) {
        LOG_ERROR("shard %s: out of memory in the image pipeline", s->name);
        return SHARD_FAILED;
    }
    tp_header h = {b->n > 0 ? CMD_BATCH : CMD_SHARD_END, b->n, o->idx, embed_queue_get(&r->queue, EQ_STOP) > 0};
    tp_agree(r, &h);
    if (h.stop) return SHARD_STOPPED;
    if (b->n == 0) return SHARD_DONE;
    const int slot = f->b ? 1 - f->slot : 0;
    group_submit(r, b->n, slot, r->u8 ? (void *)b->u8 : (void *)b->pixels, t);
    flush_in_flight(r, f);
    f->o = o;
    f->b = b;
    f->slot = slot;
    return SHARD_RUNNING;
}

/* Leader: close the shard that ended with `result`: rename its file when it is complete (a
 * damaged input fails it), else remove it. Returns the final result (SHARD_LEFT for a write that
 * failed on a full file system). */
static int shard_close(embed_run *r, open_shard *o, int result) {
    const ws_shard *s = &r->shards.shards[o->idx];
    const char *why = NULL;
    if (result == SHARD_DONE && o->write_failed) result = SHARD_FAILED;
    if (result == SHARD_DONE && pipeline_damaged(o->p, &why)) {
        LOG_ERROR("shard %s (%s): damaged: %s; no output written", s->name, s->display, why ? why : "");
        result = SHARD_FAILED;
    }
    if (result == SHARD_DONE && resume_inputs_unchanged(s, &r->pp.stream, &o->manifest) != WS_OK) {
        LOG_ERROR("shard %s (%s): %s; no output written", s->name, s->display, ws_error_message());
        result = SHARD_FAILED;
    }
    shard_manifest_free(&o->manifest);
    pipeline_seconds(o->p, &o->t.read, &o->t.decode);
    pipeline_close(o->p);
    if (result == SHARD_DONE) {
        double t1 = MPI_Wtime();
        int rc = h5_writer_finish(o->w);
        o->t.write += MPI_Wtime() - t1;
        if (rc != WS_OK) {
            write_failed(r, s, rc);
            result = SHARD_FAILED;
            o->no_space = rc == WS_ERR_NOSPACE;
        } else if (o->retry_rows) {   /* written (its rows are of use), yet not finished */
            LOG_ERROR("shard %s (%s): %lld image(s) could not be read for a reason that may heal (status %d, %s); "
                      "written, and the next run redoes it", s->name, s->display, (long long)o->retry_rows,
                      WS_IMG_RETRY, image_status_name(WS_IMG_RETRY));
            result = SHARD_FAILED;
        }
    } else {
        h5_writer_abort(o->w);
    }
    if (result == SHARD_FAILED && o->no_space) result = SHARD_LEFT;   /* not the shard's fault */
    if (result != SHARD_STOPPED && result != SHARD_LEFT)
        embed_stats_write(r->stats_fd, r->topo.world_rank, "shard", s->name, &o->t);
    embed_times_add(&r->total, &o->t);
    return result;
}

static void count_shard(embed_run *r, int64_t idx, int res) {
    embed_queue_add(&r->queue, res == SHARD_DONE ? EQ_SHARDS_DONE : res == SHARD_SKIPPED ? EQ_SHARDS_SKIPPED
                                                                                          : EQ_SHARDS_FAILED, 1);
    if (res == SHARD_FAILED) record_failed(r, idx);
    show_progress(r, 0);
}

/* Leader: claim shards until one needs work and open it (1), or none is left / a stop is asked /
 * the file system is full (0). */
static int claim_shard(embed_run *r, open_shard *o) {
    for (;;) {
        if (embed_signal_pending() || embed_queue_get(&r->queue, EQ_STOP) > 0 || no_space(r)) return 0;
        int64_t idx = embed_queue_add(&r->queue, EQ_NEXT_SHARD, 1);
        if (idx >= r->num_shards) return 0;
        int res = shard_open(r, idx, o);
        if (res == SHARD_OPEN) return 1;
        if (res != SHARD_LEFT) count_shard(r, idx, res);
    }
}

/* The open shard to step next: the oldest with a batch (or its end) ready; while none is, sleep
 * until a pipeline signals one (the decoding threads keep the cores), looking for a stop every
 * 50 ms. So a shard whose source stalls (a slow server) does not hold the batches of the others,
 * and a stop is seen while waiting (-1). */
static int pick_ready(embed_run *r, open_shard *open, int n) {
    for (;;) {
        unsigned long seq = pipeline_notify_seq(r->pp.notify);
        for (int i = 0; i < n; i++)
            if (pipeline_batch_ready(open[i].p)) return i;
        if (embed_signal_pending() || embed_queue_get(&r->queue, EQ_STOP) > 0) return -1;
        pipeline_notify_wait(r->pp.notify, seq, 0.05);
    }
}

/* Leader: up to --read-ahead shards open at once (their pipelines read ahead), batches taken from
 * whichever has one ready; each shard's rows still go to its own file in its own order. */
static void leader_loop(embed_run *r) {
    r->pp.stop_requested = embed_signal_pending;   /* a reader blocked in I/O does not hold up a stop */
    r->pp.stream.stop_requested = embed_signal_pending;   /* nor a HEAD request of a manifest */
    ws_pipeline_notify ready;   /* any open shard's pipeline has a batch */
    pipeline_notify_init(&ready);
    r->pp.notify = &ready;
    r->pp.hold = 1;             /* a batch is the caller's until its rows are written */
    open_shard open[WS_MAX_READ_AHEAD];
    in_flight f = {NULL, NULL, 0};
    int n = 0, more = 1, stopped = 0;
    while (!stopped && !no_space(r)) {
        while (more && n < r->opt.read_ahead)
            if (claim_shard(r, &open[n])) n++;
            else more = 0;
        if (n == 0) break;
        double t0 = MPI_Wtime();
        int k = pick_ready(r, open, n);
        if (k < 0) break;   /* stop: the group agrees on it below */
        open[k].t.input_wait += MPI_Wtime() - t0;
        int res = shard_step(r, &open[k], &f);
        if (res == SHARD_RUNNING) continue;
        flush_in_flight(r, &f);   /* its rows may be this shard's last ones */
        res = shard_close(r, &open[k], res);
        int64_t idx = open[k].idx;
        memmove(&open[k], &open[k + 1], (size_t)(n - k - 1) * sizeof *open);
        n--;
        if (res == SHARD_STOPPED) stopped = 1;
        else if (res != SHARD_LEFT) count_shard(r, idx, res);
    }
    flush_in_flight(r, &f);
    for (int i = 0; i < n; i++) shard_close(r, &open[i], SHARD_STOPPED);   /* claimed, left for a rerun (a
                                                                             * stop, or no space) */
    if (stopped) {
        r->stopped = 1;
    } else {
        tp_header h = {CMD_FINISH, 0, 0, embed_signal_pending() || embed_queue_get(&r->queue, EQ_STOP) > 0};
        tp_agree(r, &h);
        r->stopped = (int)h.stop;
    }
    if (r->stopped) embed_queue_add(&r->queue, EQ_STOP, 1);  /* stop the other groups too */
    r->pp.notify = NULL;
    pipeline_notify_destroy(&ready);
}

/* A peer follows the leader's commands: each batch's pass submitted on the next slot, the one
 * before collected after it (as the leader does), the last one at FINISH or a stop. */
static void peer_loop(embed_run *r) {
    int pending = -1;   /* the slot of the pass in flight, -1: none */
    for (;;) {
        tp_header h = {CMD_NONE, 0, 0, 0};
        tp_agree(r, &h);
        if (h.stop || h.cmd == CMD_FINISH) {
            if (pending >= 0) group_collect(r, pending, &r->total);
            r->stopped = h.stop != 0;
            return;
        }
        if (h.cmd == CMD_BATCH) {
            const int slot = pending >= 0 ? 1 - pending : 0;
            group_submit(r, (int)h.n, slot, r->pixels[slot], &r->total);
            if (pending >= 0) group_collect(r, pending, &r->total);
            pending = slot;
        }
    }
}

void embed_loop(embed_run *r) {
    if (r->topo.is_leader) leader_loop(r);
    else peer_loop(r);
}
