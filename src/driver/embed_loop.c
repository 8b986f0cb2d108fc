/* The shard loop of `embed`: TP leaders claim shards, read/decode them through the pipeline,
 * hand each batch to their TP peers, run the forward pass and write the shard file; peers follow
 * the leader's commands (protocol in embed_run.h). */
#include "driver/embed_run.h"
#include "driver/embed_signal.h"
#include "driver/resume.h"
#include "common/check.h"
#include "common/log.h"
#include "io/run_dir.h"

#include <stdlib.h>
#include <string.h>

enum { CMD_NONE = 0, CMD_BATCH, CMD_SHARD_END, CMD_FINISH };
enum { SHARD_DONE, SHARD_SKIPPED, SHARD_FAILED, SHARD_STOPPED };

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

/* Broadcast the batch's pixels and run the forward pass (every rank of the group). */
static void group_forward(embed_run *r, int n, embed_times *t) {
    double t0 = MPI_Wtime();
    size_t px = (size_t)n * 3 * (size_t)r->R * (size_t)r->R;
    if (comm_broadcast(r->bcast, r->pixels, px * sizeof(float), 0) != WS_OK)
        ws_fatal(__FILE__, __LINE__, "sending a batch to the TP group: %s", ws_error_message());
    double t1 = MPI_Wtime(), c0 = r->comm->comm_seconds;
    ws_features f = {r->cls, (r->layout.features & WS_FEAT_PATCH_MEAN) ? r->patch_mean : NULL,
                     (r->layout.features & WS_FEAT_PATCH) ? r->patch : NULL};
    if (ws_model_forward(r->model, r->pixels, n, r->R, &f) != WS_OK)
        ws_fatal(__FILE__, __LINE__, "forward pass: %s", ws_error_message());
    double t2 = MPI_Wtime();
    t->scatter += t1 - t0;
    t->compute += t2 - t1;
    t->comm += r->comm->comm_seconds - c0;
    t->images += n;
    t->batches++;
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
static void zero_failed_rows(embed_run *r, const ws_batch *b) {
    size_t D = (size_t)r->layout.D, PD = (size_t)r->layout.P * D, K = (size_t)r->layout.K;
    for (int i = 0; i < b->n; i++) {
        if (!b->status[i]) continue;
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

/* Leader: one shard, from the existence check to the rename. */
static int leader_shard(embed_run *r, int64_t idx) {
    const ws_shard *s = &r->shards.shards[idx];
    char final[4096], tmp[4096];
    if (run_dir_shard_path(r->opt.output, s->name, final, sizeof final) != WS_OK ||
        run_dir_tmp_path(r->opt.output, s->name, r->tmp_tag, tmp, sizeof tmp) != WS_OK) {
        LOG_ERROR("shard %s: %s", s->name, ws_error_message());
        return SHARD_FAILED;
    }
    ws_manifest manifest;
    if (shard_manifest_build(s, &manifest) != WS_OK) {
        LOG_ERROR("shard %s: %s", s->name, ws_error_message());
        return SHARD_FAILED;
    }
    int64_t count = 0;
    resume_verdict v = resume_check_shard(final, &r->layout, s, &manifest, &count);
    if (v == RESUME_REDO && resume_inputs_present(s, &manifest) != WS_OK) {
        LOG_ERROR("shard %s: %s", s->name, ws_error_message());
        v = RESUME_FAIL;
    }
    if (v != RESUME_REDO) {
        if (v == RESUME_SKIP) LOG_DEBUG("shard %s: already complete (%lld images), skipped", s->name, (long long)count);
        shard_manifest_free(&manifest);
        return v == RESUME_SKIP ? SHARD_SKIPPED : SHARD_FAILED;
    }
    ws_pipeline *p = NULL;
    ws_h5_writer *w = NULL;
    int rc;
    if ((rc = pipeline_open(s, &r->pp, &p)) != WS_OK) {
        LOG_ERROR("shard %s (%s): %s", s->name, s->path, ws_error_message());
        shard_manifest_free(&manifest);
        return SHARD_FAILED;
    }
    r->meta.source = s->path;
    r->meta.manifest = manifest.text;
    r->meta.manifest_digest = manifest.digest;
    rc = h5_writer_open(final, tmp, &r->layout, &r->meta, &w);
    r->meta.manifest = r->meta.manifest_digest = NULL;
    if (rc != WS_OK) {
        LOG_ERROR("shard %s: %s", s->name, ws_error_message());
        pipeline_close(p);
        shard_manifest_free(&manifest);
        return SHARD_FAILED;
    }
    embed_times t = {0};
    int result = SHARD_DONE;
    for (;;) {
        double t0 = MPI_Wtime();
        const ws_batch *b = pipeline_next_batch(p);
        t.input_wait += MPI_Wtime() - t0;
        if (!b) {
            LOG_ERROR("shard %s: out of memory in the image pipeline", s->name);
            result = SHARD_FAILED;
            break;
        }
        tp_header h = {b->n > 0 ? CMD_BATCH : CMD_SHARD_END, b->n, idx, embed_queue_get(&r->queue, EQ_STOP) > 0};
        tp_agree(r, &h);
        if (h.stop) {
            result = SHARD_STOPPED;
            break;
        }
        if (b->n == 0) break;
        memcpy(r->pixels, b->pixels, (size_t)b->n * 3 * (size_t)r->R * (size_t)r->R * sizeof(float));
        group_forward(r, b->n, &t);
        leader_head(r, b->n, &t);
        zero_failed_rows(r, b);
        double t1 = MPI_Wtime();
        ws_h5_rows rows = {(const char *const *)b->keys, b->status, r->cls, r->patch_mean, r->patch, r->z,
                           r->proto_index, r->proto_score};
        rc = h5_writer_append(w, b->n, &rows);
        t.write += MPI_Wtime() - t1;
        int failed_images = 0;
        for (int i = 0; i < b->n; i++) failed_images += b->status[i] != 0;
        embed_queue_add(&r->queue, EQ_IMAGES, b->n);
        if (failed_images) embed_queue_add(&r->queue, EQ_IMAGES_FAILED, failed_images);
        if (rc != WS_OK) {
            LOG_ERROR("shard %s: %s", s->name, ws_error_message());
            result = SHARD_FAILED;
            break;
        }
        show_progress(r, 0);
    }
    const char *why = NULL;
    if (result == SHARD_DONE && pipeline_damaged(p, &why)) {
        LOG_ERROR("shard %s (%s): damaged: %s; no output written", s->name, s->path, why ? why : "");
        result = SHARD_FAILED;
    }
    if (result == SHARD_DONE && resume_inputs_unchanged(s, &manifest) != WS_OK) {
        LOG_ERROR("shard %s (%s): %s; no output written", s->name, s->path, ws_error_message());
        result = SHARD_FAILED;
    }
    shard_manifest_free(&manifest);
    pipeline_seconds(p, &t.read, &t.decode);
    pipeline_close(p);
    if (result == SHARD_DONE) {
        double t1 = MPI_Wtime();
        rc = h5_writer_finish(w);
        t.write += MPI_Wtime() - t1;
        if (rc != WS_OK) {
            LOG_ERROR("shard %s: %s", s->name, ws_error_message());
            result = SHARD_FAILED;
        }
    } else {
        h5_writer_abort(w);
    }
    if (result != SHARD_STOPPED) embed_stats_write(r->stats_fd, r->topo.world_rank, "shard", s->name, &t);
    embed_times_add(&r->total, &t);
    return result;
}

static void leader_loop(embed_run *r) {
    r->pp.stop_requested = embed_signal_pending;   /* a reader blocked in I/O does not hold up a stop */
    for (;;) {
        int stop = embed_signal_pending() || embed_queue_get(&r->queue, EQ_STOP) > 0;
        int64_t idx = stop ? r->num_shards : embed_queue_add(&r->queue, EQ_NEXT_SHARD, 1);
        if (stop || idx >= r->num_shards) {
            tp_header h = {CMD_FINISH, 0, 0, stop};
            tp_agree(r, &h);
            r->stopped = (int)h.stop;
            break;
        }
        int res = leader_shard(r, idx);
        if (res == SHARD_STOPPED) {
            r->stopped = 1;
            break;
        }
        embed_queue_add(&r->queue, res == SHARD_DONE ? EQ_SHARDS_DONE : res == SHARD_SKIPPED ? EQ_SHARDS_SKIPPED
                                                                                              : EQ_SHARDS_FAILED, 1);
        if (res == SHARD_FAILED) record_failed(r, idx);
        show_progress(r, 0);
    }
    if (r->stopped) embed_queue_add(&r->queue, EQ_STOP, 1);  /* stop the other groups too */
}

static void peer_loop(embed_run *r) {
    for (;;) {
        tp_header h = {CMD_NONE, 0, 0, 0};
        tp_agree(r, &h);
        if (h.stop) {
            r->stopped = 1;
            return;
        }
        if (h.cmd == CMD_FINISH) return;
        if (h.cmd == CMD_BATCH) group_forward(r, (int)h.n, &r->total);
    }
}

void embed_loop(embed_run *r) {
    if (r->topo.is_leader) leader_loop(r);
    else peer_loop(r);
}
