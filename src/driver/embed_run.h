/* State of one `webssl-dist embed` process, shared by the setup (embed.c) and the shard loop
 * (embed_loop.c).
 *
 * Protocol inside a TP group: before every step the group agrees on a header
 * {cmd, n, shard, stop} with one small all-reduce (MAX): the leader supplies cmd/n/shard, every
 * rank its own stop request, so a signal seen by any rank of the group stops the whole group at
 * that step. cmd BATCH is followed by a broadcast of n images' pixels from the leader and one
 * forward pass submitted on every rank (input slots alternate); a pass is collected after the
 * next one is submitted, or at SHARD_END, FINISH or a stop, so the device does not wait while
 * the host writes a batch. SHARD_END and FINISH carry no data. Across TP groups nothing is
 * synchronous: leaders claim shards and raise/see the stop flag through embed_queue. */
#ifndef WEBSSL_DRIVER_EMBED_RUN_H
#define WEBSSL_DRIVER_EMBED_RUN_H

#include <stdint.h>

#include "driver/device.h"
#include "driver/embed_options.h"
#include "driver/embed_progress.h"
#include "driver/embed_queue.h"
#include "driver/embed_stats.h"
#include "comm/topology.h"
#include "data/input_spec.h"
#include "data/pipeline.h"
#include "io/h5_writer.h"
#include "loaders/checkpoint.h"
#include "model/head.h"
#include "webssl.h"

typedef struct {
    embed_options opt;
    ws_topology topo;
    run_device dev;            /* backend and the TP communicator of the model's all-reduces */
    ws_comm *bcast;            /* the TP group over host buffers: batches from the leader */
    ws_ckpt ckpt;              /* --model, open from the start until the model is loaded */
    int have_ckpt;
    ws_model *model;
    ws_arch arch;              /* the model's architecture */
    char *weights;             /* rank 0: the checkpoint's fingerprint (JSON object, run.json "weights") */
    char *head_weights;        /* rank 0, with --head: the head file's ("head_weights") */
    ws_pipeline_params pp;     /* leaders: decoding and preprocessing */
    ws_shard_list shards;      /* leaders: the input shards */
    int64_t num_shards;
    ws_h5_layout layout;
    ws_h5_meta meta;
    embed_queue queue;
    int queue_up;
    embed_progress progress;   /* world rank 0 */
    int stats_fd;
    int lock_fd;               /* world rank 0: DIR/.lock */
    char tmp_tag[96];          /* temporary file suffix: job and rank */
    int R, B;                  /* resolution, batch */
    int u8;                    /* 1: images travel as uint8 and the backend normalises them
                                * (ws_model_input_u8), 0: as the pipeline's floats */
    size_t image_bytes;        /* one image in `pixels`: 3*R*R bytes or floats */
    void *pixels[2];           /* TP peers, per input slot: [B, R, R, 3] uint8 or [B, 3, R, R] f32
                                * received from the leader (backend host_alloc: pinned on GPUs, so
                                * the upload is asynchronous); leaders submit the pipeline's
                                * batches, allocated so too (pp.buf_alloc) */
    float *cls, *patch_mean, *patch;  /* outputs [B, D], [B, D], [B, P, D] */
    ws_dino_head head;         /* leaders, with --features head/proto: the DINO head */
    int has_head;
    float *z;                  /* leaders: head bottleneck vectors [B, K] */
    int32_t *proto_index;      /* leaders: best prototype [B] */
    float *proto_score;        /* leaders: its logit [B] */
    int64_t *failed;           /* leaders: indices of the shards that failed here */
    size_t num_failed, cap_failed;
    int stopped;               /* this rank stopped on a request */
    embed_times total;
} embed_run;

/* Run the shard loop on this rank (leader or peer) until the shards are exhausted or a stop is
 * requested. Unrecoverable failures inside a TP group (forward pass, communication) stop every
 * rank through ws_fatal; per-shard failures are recorded and the loop goes on. */
void embed_loop(embed_run *r);

#endif
