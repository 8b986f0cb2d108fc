/* The embed engine's entry point (see embed.h). Setup in a fixed order, each step agreed by every
 * rank (a failure anywhere stops every rank with that rank's reason, never a hang):
 *   checkpoint opened (once per rank) -> tp auto -> topology (dp x tp) -> device (GPU from the local rank) -> rank layout printed
 *   -> architecture check (rank 0) -> DINO head (TP leaders, --features head/proto) -> input
 *   shards (TP leaders) -> output directory: links refused, lock, run.json, stale temporary
 *   files (rank 0) -> backend, device memory check, TP communicator (device.c) -> model (every rank, its
 *   TP slice; the checkpoint is closed) -> buffers -> shard queue
 * then the shard loop (embed_loop.c), a summary on rank 0, and teardown in reverse order. */
#include "driver/embed.h"
#include "driver/embed_run.h"
#include "driver/embed_signal.h"
#include "driver/tp_auto.h"
#include "comm/comm_mpi.h"
#include "comm/launch_env.h"
#include "common/check.h"
#include "common/log.h"
#include "data/shard_list_pack.h"
#include "data/stream_source.h"
#include "data/wds_name.h"
#include "io/run_dir.h"
#include "loaders/arch_match.h"
#include "loaders/checkpoint.h"
#include "loaders/ckpt_fingerprint.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LAYOUT_LINE 256

/* Rank 0 prints every rank's layout line, in rank order. */
static void print_layout(const embed_run *r) {
    char line[LAYOUT_LINE], *all = NULL;
    topology_describe(&r->topo, r->dev.name, line, sizeof line);
    if (r->topo.world_rank == 0) all = malloc((size_t)r->topo.world_size * LAYOUT_LINE);
    MPI_CHECK(MPI_Gather(line, LAYOUT_LINE, MPI_CHAR, all, LAYOUT_LINE, MPI_CHAR, 0, r->topo.world));
    if (r->topo.world_rank != 0) return;
    LOG_INFO("layout: %d ranks = dp %d x tp %d", r->topo.world_size, r->topo.dp, r->topo.tp);
    for (int i = 0; all && i < r->topo.world_size; i++) LOG_INFO("layout: %s", all + (size_t)i * LAYOUT_LINE);
    if (!r->topo.group_on_one_node)
        LOG_WARN("a TP group spans several nodes: its all-reduces cross the network (place tp ranks per node)");
    free(all);
}

/* Rank 0: the architecture the checkpoint will run with, checked against --tp and --resolution
 * before any rank loads weights; the position-embedding rule when --posembed is not given. */
static int check_arch(embed_run *r, ws_arch *a) {
    int rc = arch_for_checkpoint(&r->ckpt, r->opt.arch, a);
    if (rc == WS_OK) rc = ckpt_fingerprint(&r->ckpt, &r->weights);
    if (rc == WS_OK && r->opt.head && (r->opt.features & (WS_FEAT_HEAD | WS_FEAT_PROTO)) &&
        (rc = ckpt_fingerprint_path(r->opt.head, &r->head_weights)) != WS_OK)
        ws_error_context(rc, "--head %s", r->opt.head);
    /* HF checkpoints with register tokens are Dinov2WithRegisters, which interpolates with antialias */
    if (r->opt.posembed < 0)
        r->opt.posembed = r->ckpt.format == WS_CKPT_PTH ? WS_POSEMBED_ORIGINAL
                        : rc == WS_OK && a->num_register_tokens > 0 ? WS_POSEMBED_HF_ANTIALIAS : WS_POSEMBED_HF;
    if (rc != WS_OK) return rc;
    if ((rc = topology_check_heads(&r->topo, a->num_heads, a->name)) != WS_OK) return rc;
    int R = r->opt.resolution ? r->opt.resolution : a->preprocess.crop ? a->preprocess.crop : a->img_size;
    if (R % a->patch_size != 0)
        return ws_errorf(WS_ERR_ARG, "--resolution %d is not a multiple of the patch size %d of %s", R,
                         a->patch_size, a->name);
    return WS_OK;
}

/* A dtype as run.json has always spelt it (f32, f16, bf16), so that a rerun over a directory
 * written by an earlier version still matches. */
static const char *run_json_dtype(ws_dtype dt) {
    return dt == WS_DTYPE_F32 ? "f32" : dt == WS_DTYPE_F16 ? "f16" : "bf16";
}

/* The run configuration stored in DIR/run.json (compared on every later run). */
static char *config_json(const embed_run *r) {
    const ws_preprocess *p = &r->pp.pre;
    char feats[64];
    h5_features_format(r->layout.features, feats, sizeof feats);
    cJSON *o = cJSON_CreateObject();
    char *input = input_spec_canonical(r->opt.input);
    cJSON_AddStringToObject(o, "input", input ? input : r->opt.input);
    free(input);
    cJSON_AddStringToObject(o, "model", r->opt.model);
    cJSON_AddItemToObject(o, "weights", cJSON_Parse(r->weights));
    cJSON_AddStringToObject(o, "arch", r->arch.name);
    cJSON_AddStringToObject(o, "features", feats);
    cJSON_AddStringToObject(o, "out_dtype", run_json_dtype(r->layout.out_dtype));
    cJSON_AddStringToObject(o, "dtype", run_json_dtype(r->opt.dtype));
    cJSON_AddStringToObject(o, "allreduce", run_json_dtype(r->opt.allreduce));
    if (r->has_head) cJSON_AddStringToObject(o, "head", r->opt.head ? r->opt.head : r->opt.model);
    if (r->has_head && r->head_weights) cJSON_AddItemToObject(o, "head_weights", cJSON_Parse(r->head_weights));
    cJSON_AddStringToObject(o, "posembed", r->opt.posembed == WS_POSEMBED_ORIGINAL ? "original"
                                           : r->opt.posembed == WS_POSEMBED_HF_ANTIALIAS ? "hf-antialias" : "hf");
    cJSON_AddNumberToObject(o, "resolution", r->R);
    cJSON_AddStringToObject(o, "preprocess", p->mode == WS_PREPROCESS_CROP ? "crop" : "square");
    cJSON_AddNumberToObject(o, "resize", p->mode == WS_PREPROCESS_CROP ? p->resize : 0);
    cJSON_AddItemToObject(o, "mean", cJSON_CreateFloatArray(p->mean, 3));
    cJSON_AddItemToObject(o, "std", cJSON_CreateFloatArray(p->std, 3));
    cJSON_AddNumberToObject(o, "shard_size", r->opt.shard_size);
    cJSON_AddNumberToObject(o, "max_pixels", (double)r->pp.decode.max_pixels);
    cJSON_AddBoolToObject(o, "exif_transpose", r->opt.exif_transpose);
    cJSON_AddBoolToObject(o, "fast_decode", r->opt.fast_decode);
    cJSON_AddStringToObject(o, "image_ext", r->opt.image_exts ? r->opt.image_exts : WDS_IMAGE_EXTS_DEFAULT);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* The value of each field of config_json that an earlier version wrote only when it was not the
 * default: what its absence from a run.json stands for. */
static const char config_defaults[] = "{\"allreduce\": \"f32\", \"image_ext\": \"" WDS_IMAGE_EXTS_DEFAULT "\"}";

/* Preprocessing and resolution from the architecture and the flags. */
static void set_preprocess(embed_run *r) {
    pipeline_params_default(&r->pp);
    r->pp.pre = r->arch.preprocess;
    if (r->opt.preprocess >= 0) r->pp.pre.mode = (ws_preprocess_mode)r->opt.preprocess;
    if (r->opt.resize) r->pp.pre.resize = r->opt.resize;
    r->R = r->opt.resolution ? r->opt.resolution : r->arch.preprocess.crop ? r->arch.preprocess.crop : r->arch.img_size;
    r->pp.pre.crop = r->R;
    r->pp.resolution = r->R;
    r->pp.batch = r->B = r->opt.batch;
    r->pp.threads = r->opt.decode_threads;
    r->pp.fast_decode = r->opt.fast_decode;
    r->pp.decode.exif_transpose = r->opt.exif_transpose;
    if (r->opt.max_pixels) r->pp.decode.max_pixels = (uint64_t)r->opt.max_pixels;
    r->pp.stream = r->opt.stream;
    r->pp.image_exts = r->opt.image_exts;
}

/* Rank 0: refuse planted links, lock the output directory, compare/store run.json (the inputs may
 * change with --overwrite), remove stale temporary files. */
static int prepare_output(embed_run *r) {
    int rc = run_dir_prepare(r->opt.output);
    if (rc == WS_OK) rc = run_dir_check_links(r->opt.output);
    if (rc == WS_OK) rc = run_dir_lock(r->opt.output, &r->lock_fd);
    if (rc != WS_OK) return rc;
    char *cfg = config_json(r);
    rc = cfg ? run_dir_check_config(r->opt.output, cfg, config_defaults, "input", r->opt.overwrite)
             : ws_errorf(WS_ERR_NOMEM, "run configuration");
    cJSON_free(cfg);
    if (rc != WS_OK) return rc;
    int removed = run_dir_clean_temps(r->opt.output);
    if (removed < 0) return removed;
    if (removed > 0) LOG_INFO("%s: removed %d temporary file(s) left by an earlier run", r->opt.output, removed);
    return WS_OK;
}

/* The TP leaders: the packed shard list in buf[0..len) on world rank 0 (leaders' rank 0) sent to
 * the others, in pieces of at most 1 GiB (MPI counts are ints); *buf and *len set on them. */
static int broadcast_bytes(MPI_Comm leaders, int root, char **buf, size_t *len) {
    uint64_t n = *len;
    MPI_CHECK(MPI_Bcast(&n, 1, MPI_UINT64_T, 0, leaders));
    if (!root && !(*buf = malloc(n ? n : 1))) return ws_errorf(WS_ERR_NOMEM, "out of memory for the shard list");
    *len = n;
    for (uint64_t off = 0; off < n;) {
        int piece = n - off < (1u << 30) ? (int)(n - off) : 1 << 30;
        MPI_CHECK(MPI_Bcast(*buf + off, piece, MPI_BYTE, 0, leaders));
        off += (uint64_t)piece;
    }
    return WS_OK;
}

/* World rank 0 expands --input (globs, brace ranges, directory walks, lists: one stat per file)
 * and broadcasts the shard list to the other TP leaders, so a start costs the file system the
 * same whatever the rank count. Agreed over the world. */
static int load_shards(embed_run *r) {
    int rc = WS_OK, root = r->topo.world_rank == 0;
    char *shown = stream_source_redact(r->opt.input), *buf = NULL;   /* the spec in messages: no credentials */
    size_t len = 0;
    if (root) {
        rc = input_spec_expand(r->opt.input, (size_t)r->opt.shard_size, &r->shards);
        if (rc != WS_OK) ws_error_context(rc, "--input %s", shown ? shown : "");
        if (rc == WS_OK) rc = shard_list_pack(&r->shards, &buf, &len);
    }
    free(shown);
    if ((rc = topology_agree(r->topo.world, rc)) != WS_OK) {
        free(buf);
        return rc;
    }
    if (r->topo.is_leader) {
        rc = broadcast_bytes(r->topo.leaders, root, &buf, &len);
        if (rc == WS_OK && !root) rc = shard_list_unpack(buf, len, &r->shards);
        r->num_shards = (int64_t)r->shards.count;
    }
    free(buf);
    return topology_agree(r->topo.world, rc);
}

/* Rank 0: DIR/shards.txt names this run's shards (what `index` expects to find). */
static int record_shards(embed_run *r) {
    const char **names = malloc((r->shards.count ? r->shards.count : 1) * sizeof *names);
    if (!names) return ws_errorf(WS_ERR_NOMEM, "out of memory listing %zu shards", r->shards.count);
    for (size_t i = 0; i < r->shards.count; i++) names[i] = r->shards.shards[i].name;
    int rc = run_dir_write_shard_list(r->opt.output, names, r->shards.count);
    free(names);
    return rc;
}

/* TP leaders, with --features head/proto: the DINO head from --head or --model, checked against
 * the backbone width (the head runs on the leader's full CLS tokens after the forward pass). */
static int load_head(embed_run *r) {
    const char *path = r->opt.head ? r->opt.head : r->opt.model;
    const char *flag = r->opt.head ? "--head" : "--model";
    int rc = r->opt.head ? head_load_file(path, &r->head) : head_load(&r->ckpt, &r->head);
    if (rc != WS_OK)
        return ws_error_context(rc, "--features %s needs a DINO head (a teacher checkpoint, or --head FILE); %s %s",
                                (r->opt.features & WS_FEAT_HEAD) ? "head" : "proto", flag, path);
    r->has_head = 1;
    if (head_in_dim(&r->head) != r->arch.embed_dim)
        return ws_errorf(WS_ERR_SHAPE, "%s %s: the DINO head takes %d inputs but %s has width %d", flag, path,
                         head_in_dim(&r->head), r->arch.name, r->arch.embed_dim);
    if ((r->opt.features & WS_FEAT_PROTO) && r->head.K == 0)
        return ws_errorf(WS_ERR_UNSUPPORTED, "--features proto: the DINO head in %s %s has no prototype layer",
                         flag, path);
    return WS_OK;
}

static int load_model(embed_run *r) {
    ws_model_options mo;
    ws_model_options_init(&mo);
    mo.arch = r->opt.arch;
    mo.device = r->opt.device;
    mo.device_index = r->dev.index;
    mo.backend = r->dev.be;
    mo.threads = r->opt.threads;
    mo.compute = r->opt.dtype;
    mo.allreduce = r->opt.allreduce;
    mo.posembed = (ws_posembed_rule)r->opt.posembed;
    mo.tp_rank = r->topo.tp_rank;
    mo.tp_size = r->topo.tp;
    mo.comm = r->topo.tp > 1 ? r->dev.comm : NULL;
    int rc = ws_model_load_ckpt(&r->ckpt, &mo, &r->model);
    ckpt_close(&r->ckpt);   /* the weights are copied: the file's mapping is no longer needed */
    r->have_ckpt = 0;
    if (rc != WS_OK) return ws_error_context(rc, "--model %s", r->opt.model);
    r->arch = *ws_model_arch(r->model);
    return WS_OK;
}

/* The pipeline's batch buffers on a device backend: its pinned host memory, uploaded from as the
 * decoding threads left them. */
static void *pinned_alloc(void *be, size_t bytes) { return ((ws_backend *)be)->ops->host_alloc(be, bytes); }
static void pinned_free(void *be, void *ptr) { ((ws_backend *)be)->ops->host_free(be, ptr); }

static int alloc_buffers(embed_run *r) {
    int g = r->R / r->arch.patch_size;
    size_t B = (size_t)r->B, D = (size_t)r->arch.embed_dim, P = (size_t)g * (size_t)g;
    r->layout.D = (int)D;
    r->layout.P = (int)P;
    r->u8 = ws_model_input_u8(r->model);
    r->pp.u8_only = r->u8;   /* the pipeline's float work is left to the device */
    r->image_bytes = 3 * (size_t)r->R * (size_t)r->R * (r->u8 ? 1 : sizeof(float));
    if (!r->dev.be->host_memory) {
        r->pp.buf_alloc = pinned_alloc;
        r->pp.buf_free = pinned_free;
        r->pp.buf_ctx = r->dev.be;
    }
    int peer = !r->topo.is_leader;   /* a leader's batches are the pipeline's */
    for (int s = 0; s < 2 && peer; s++) r->pixels[s] = r->dev.be->ops->host_alloc(r->dev.be, B * r->image_bytes);
    r->cls = calloc(B * D, sizeof(float));
    r->patch_mean = calloc(B * D, sizeof(float));
    if (r->layout.features & WS_FEAT_PATCH) r->patch = calloc(B * P * D, sizeof(float));
    int nomem = (peer && (!r->pixels[0] || !r->pixels[1])) || !r->cls || !r->patch_mean || ((r->layout.features & WS_FEAT_PATCH) && !r->patch);
    if (r->has_head) {
        r->z = calloc(B * (size_t)head_bottleneck(&r->head), sizeof(float));
        r->proto_index = calloc(B, sizeof *r->proto_index);
        r->proto_score = calloc(B, sizeof *r->proto_score);
        nomem |= !r->z || !r->proto_index || !r->proto_score;
    }
    if (nomem) return ws_errorf(WS_ERR_NOMEM, "batch buffers for --batch %d at resolution %d", r->B, r->R);
    return WS_OK;
}

/* The part of a temporary file name that tells which job and rank wrote it. */
static void set_tmp_tag(embed_run *r) {
    char job[64];
    const char *id = getenv("SLURM_JOB_ID");
    long pid = (long)getpid();
    MPI_CHECK(MPI_Bcast(&pid, 1, MPI_LONG, 0, r->topo.world));
    if (id) snprintf(job, sizeof job, "%s", id);
    else snprintf(job, sizeof job, "%ld", pid);
    snprintf(r->tmp_tag, sizeof r->tmp_tag, "%s.%d", job, r->topo.world_rank);
}

/* Rank 0 lists the shards that failed anywhere (leaders send their indices). */
static void summarize(embed_run *r, double seconds) {
    int n = (int)r->num_failed, *counts = NULL, *displs = NULL, total = 0;
    int rank0 = r->topo.world_rank == 0, W = r->topo.world_size;
    if (rank0) counts = calloc((size_t)W, sizeof *counts), displs = calloc((size_t)W, sizeof *displs);
    MPI_CHECK(MPI_Gather(&n, 1, MPI_INT, counts, 1, MPI_INT, 0, r->topo.world));
    for (int i = 0; rank0 && i < W; i++) displs[i] = total, total += counts[i];
    int64_t *all = rank0 ? malloc(((size_t)total + 1) * sizeof *all) : NULL;
    MPI_CHECK(MPI_Gatherv(r->failed, n, MPI_INT64_T, all, counts, displs, MPI_INT64_T, 0, r->topo.world));
    double rss = embed_max_rss_mb(), rss_max = 0, rss_min = 0;
    MPI_CHECK(MPI_Reduce(&rss, &rss_max, 1, MPI_DOUBLE, MPI_MAX, 0, r->topo.world));
    MPI_CHECK(MPI_Reduce(&rss, &rss_min, 1, MPI_DOUBLE, MPI_MIN, 0, r->topo.world));
    double comm = r->total.comm, comm_max = 0, compute = r->total.compute, compute_max = 0;
    MPI_CHECK(MPI_Reduce(&comm, &comm_max, 1, MPI_DOUBLE, MPI_MAX, 0, r->topo.world));
    MPI_CHECK(MPI_Reduce(&compute, &compute_max, 1, MPI_DOUBLE, MPI_MAX, 0, r->topo.world));
    if (rank0) {
        int64_t c[EQ_COUNT];
        embed_queue_snapshot(&r->queue, c);
        embed_progress_show(&r->progress, c, 1);
        LOG_INFO("summary: %lld shards written, %lld already done, %lld failed, of %lld; %lld images (%lld failed) in %.1f s, %.2f img/s",
                 (long long)c[EQ_SHARDS_DONE], (long long)c[EQ_SHARDS_SKIPPED], (long long)c[EQ_SHARDS_FAILED],
                 (long long)r->num_shards, (long long)c[EQ_IMAGES], (long long)c[EQ_IMAGES_FAILED], seconds,
                 seconds > 0 ? (double)c[EQ_IMAGES] / seconds : 0.0);
        LOG_INFO("summary: peak memory per rank %.0f-%.0f MiB (weights %.0f MiB per rank); all-reduce %.1f%% of compute",
                 rss_min, rss_max, (double)ws_model_weight_bytes(r->model) / 1048576.0,
                 compute_max > 0 ? 100.0 * comm_max / compute_max : 0.0);
        LOG_INFO("summary: %s", ws_model_gemm_info(r->model));
        for (int i = 0; i < total; i++)
            LOG_ERROR("failed shard: %s (%s)", r->shards.shards[all[i]].name, r->shards.shards[all[i]].display);
        if (r->stopped) LOG_WARN("stopped by a signal: run the same command again to resume");
        int64_t left = r->num_shards - c[EQ_SHARDS_DONE] - c[EQ_SHARDS_SKIPPED] - c[EQ_SHARDS_FAILED];
        if (c[EQ_NO_SPACE])
            LOG_ERROR("%s: No space left on device: %lld shards not written; free space and run the same "
                      "command again to resume", r->opt.output, (long long)left);
    }
    free(all);
    free(counts);
    free(displs);
}

static void run_free(embed_run *r) {
    if (r->queue_up) embed_queue_free(&r->queue);
    ws_model_free(r->model);
    if (r->have_ckpt) ckpt_close(&r->ckpt);
    for (int s = 0; s < 2; s++)
        if (r->pixels[s]) r->dev.be->ops->host_free(r->dev.be, r->pixels[s]);
    device_free(&r->dev);
    comm_free(r->bcast);
    shard_list_free(&r->shards);
    free(r->cls);
    free(r->patch_mean);
    free(r->patch);
    free(r->z);
    free(r->proto_index);
    free(r->proto_score);
    head_free(&r->head);
    free(r->failed);
    free(r->weights);
    free(r->head_weights);
    embed_stats_close(r->stats_fd);
    run_dir_unlock(r->lock_fd);
    topology_free(&r->topo);
}

/* Every setup step, agreed over the world. */
static int setup(embed_run *r) {
    int rc = WS_OK;
    if (r->topo.world_rank == 0) rc = check_arch(r, &r->arch);
    if ((rc = topology_agree(r->topo.world, rc)) != WS_OK) return rc;
    MPI_CHECK(MPI_Bcast(&r->arch, (int)sizeof r->arch, MPI_BYTE, 0, r->topo.world));
    MPI_CHECK(MPI_Bcast(&r->opt.posembed, 1, MPI_INT, 0, r->topo.world));
    if ((r->opt.features & (WS_FEAT_HEAD | WS_FEAT_PROTO)) && r->topo.is_leader) rc = load_head(r);
    if ((rc = topology_agree(r->topo.world, rc)) != WS_OK) return rc;
    set_preprocess(r);
    const ws_preprocess *pre = &r->pp.pre;
    if (r->topo.world_rank == 0 && pre->mode == WS_PREPROCESS_CROP && r->R > pre->resize)
        LOG_WARN("--resolution %d is larger than the resize to %d: the centre crop pads each image with zeros "
                 "(%.0f%% of a square image's input); use --resize %d or --preprocess square",
                 r->R, pre->resize, 100.0 * (1.0 - (double)pre->resize * pre->resize / ((double)r->R * r->R)), r->R);
    r->layout.features = r->opt.features;
    r->layout.out_dtype = r->opt.out_dtype;
    r->layout.K = r->has_head ? head_bottleneck(&r->head) : 0;
    /* the inputs first: a spec that matches nothing is not recorded in run.json */
    if ((rc = load_shards(r)) != WS_OK) return rc;
    if (r->topo.world_rank == 0) rc = prepare_output(r);
    if ((rc = topology_agree(r->topo.world, rc)) != WS_OK) return rc;
    if (r->topo.world_rank == 0) rc = record_shards(r);
    if ((rc = topology_agree(r->topo.world, rc)) != WS_OK) return rc;
    MPI_CHECK(MPI_Bcast(&r->num_shards, 1, MPI_INT64_T, 0, r->topo.world));
    r->bcast = comm_mpi_create(r->topo.tp_comm);
    rc = r->bcast ? device_setup(&r->dev, &r->topo, r->opt.threads, &r->arch, r->R, r->B, r->opt.dtype)
                  : ws_errorf(WS_ERR_NOMEM, "communicator");
    if ((rc = topology_agree(r->topo.world, rc)) != WS_OK) return rc;
    rc = load_model(r);
    if ((rc = topology_agree(r->topo.world, rc)) != WS_OK) return rc;
    rc = alloc_buffers(r);
    if (rc == WS_OK && r->opt.stats && (r->stats_fd = embed_stats_open(r->opt.stats)) == -1) rc = WS_ERR_IO;
    if ((rc = topology_agree(r->topo.world, rc)) != WS_OK) return rc;
    r->meta.model = r->opt.model;
    r->meta.arch = &r->arch;
    r->meta.resolution = r->R;
    r->meta.preprocess = &r->pp.pre;
    r->meta.compute_dtype = r->opt.dtype == WS_DTYPE_BF16 ? "bf16" : "fp32";
    r->meta.creation_time = h5_creation_time();
    set_tmp_tag(r);
    if ((rc = embed_queue_create(r->topo.world, &r->queue)) != WS_OK) return rc;
    r->queue_up = 1;
    return WS_OK;
}

int embed_main(const embed_options *o) {
    embed_signal_install();
    embed_run r;
    memset(&r, 0, sizeof r);
    r.lock_fd = r.stats_fd = -1;
    r.opt = *o;
    int rc = ckpt_open(r.opt.model, &r.ckpt);   /* once per rank: every later step reads it */
    r.have_ckpt = rc == WS_OK;
    if (rc != WS_OK) ws_error_context(rc, "--model %s", r.opt.model);
    rc = topology_agree(MPI_COMM_WORLD, rc);
    if (rc == WS_OK && r.opt.tp == 0)
        rc = tp_auto_pick(&r.ckpt, r.opt.arch, r.opt.device, r.opt.resolution, r.opt.batch, r.opt.dtype, &r.opt.tp);
    if (rc == WS_OK) rc = topology_create(r.opt.tp, &r.topo);
    if (rc == WS_OK) rc = launch_env_check_layout(&r.topo);
    if (rc == WS_OK) rc = topology_agree(r.topo.world, device_pick(r.opt.device, r.topo.local_rank, r.topo.local_size, &r.dev));
    if (rc == WS_OK) {
        print_layout(&r);
        rc = setup(&r);
    }
    if (rc == WS_OK) {
        double t0 = MPI_Wtime();
        if (r.topo.world_rank == 0) embed_progress_init(&r.progress, r.num_shards);
        embed_loop(&r);
        MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &r.stopped, 1, MPI_INT, MPI_MAX, r.topo.world));
        embed_stats_write(r.stats_fd, r.topo.world_rank, "total", NULL, &r.total);
        summarize(&r, MPI_Wtime() - t0);
        int64_t failed = r.topo.world_rank == 0 ? embed_queue_get(&r.queue, EQ_SHARDS_FAILED) +
                                                  embed_queue_get(&r.queue, EQ_NO_SPACE) : 0;
        MPI_CHECK(MPI_Bcast(&failed, 1, MPI_INT64_T, 0, r.topo.world));
        rc = r.stopped ? EMBED_INTERRUPTED : failed > 0 ? EMBED_FAILED_SHARDS : EMBED_DONE;
    }
    run_free(&r);
    return rc;
}
