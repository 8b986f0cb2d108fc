/* The preprocess engine's shard loop (see preprocess.h). */
#include "driver/preprocess.h"
#include "common/arch.h"
#include "common/error.h"
#include "common/log.h"
#include "data/input_spec.h"
#include "data/pipeline.h"
#include "data/wds_name.h"
#include "driver/embed.h"
#include "driver/embed_signal.h"
#include "io/h5_preprocess.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

void preprocess_options_default(preprocess_options *o) {
    ws_pipeline_params pp;
    pipeline_params_default(&pp);
    memset(o, 0, sizeof *o);
    o->preprocess = -1;
    o->shard_size = WS_DEFAULT_SHARD_SIZE;
    o->decode_threads = pp.threads;
    o->batch = pp.batch;
    o->max_pixels = (long long)pp.decode.max_pixels;
}

/* The pipeline's parameters from the options (and the architecture's preprocessing). */
static int set_params(const preprocess_options *o, ws_pipeline_params *pp) {
    pipeline_params_default(pp);
    if (o->image_exts) {
        int rc = wds_ext_list_check(o->image_exts);
        if (rc != WS_OK) return rc;
        pp->image_exts = o->image_exts;
    }
    if (o->arch) {
        ws_arch arch;
        int rc = arch_resolve(o->arch, &arch);
        if (rc != WS_OK) return rc;
        pp->pre = arch.preprocess;
    }
    if (o->preprocess >= 0) pp->pre.mode = (ws_preprocess_mode)o->preprocess;
    if (o->resize) pp->pre.resize = o->resize;
    if (o->resolution) pp->pre.crop = o->resolution;
    pp->threads = o->decode_threads;
    pp->batch = o->batch;
    pp->decode.max_pixels = (uint64_t)o->max_pixels;
    pp->decode.exif_transpose = o->exif_transpose;
    pp->fast_decode = o->fast_decode;
    pp->keep_u8 = 1;
    return WS_OK;
}

static void add_damaged(preprocess_result *res, const char *name) {
    size_t len = strlen(res->damaged);
    snprintf(res->damaged + len, sizeof res->damaged - len, "%s%s", len ? "," : "", name);
}

/* Every shard through the pipeline into `out`. EMBED_DONE, EMBED_INTERRUPTED, or a write error. */
static int run_shards(const ws_shard_list *shards, const ws_pipeline_params *pp, h5_pre_file *out,
                      preprocess_result *res) {
    int outcome = EMBED_DONE;
    for (size_t s = 0; s < shards->count && outcome == EMBED_DONE; s++) {
        const ws_shard *sh = &shards->shards[s];
        ws_pipeline *p;
        if (pipeline_open(sh, pp, &p) < 0) {
            LOG_ERROR("%s: %s", sh->name, ws_error_message());
            add_damaged(res, sh->name);
            continue;
        }
        const ws_batch *b;
        while ((b = pipeline_next_batch(p)) && b->n > 0) {
            int rc = h5_pre_append(out, b->n, b->keys, sh->name, b->status, b->u8, b->pixels);
            if (rc < 0) {
                outcome = rc;
                break;
            }
            if (embed_signal_pending()) {
                outcome = EMBED_INTERRUPTED;
                break;
            }
        }
        const char *why;
        if (outcome == EMBED_DONE && pipeline_damaged(p, &why)) add_damaged(res, sh->name);
        res->failures += pipeline_failures(p);
        LOG_INFO("%s: %zu images, %zu failed", sh->name, pipeline_images(p), pipeline_failures(p));
        pipeline_close(p);
    }
    return outcome;
}

int preprocess_main(const preprocess_options *o, preprocess_result *res) {
    memset(res, 0, sizeof *res);
    ws_pipeline_params pp;
    int rc = set_params(o, &pp);
    if (rc != WS_OK) return rc;
    ws_shard_list shards;
    if ((rc = input_spec_expand(o->input, (size_t)o->shard_size, &shards)) < 0) return rc;
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.tmp", o->output);
    h5_pre_file out;
    if ((rc = h5_pre_open(&out, tmp, pp.pre.crop)) < 0) {
        h5_pre_close(&out, &pp.pre, 0, "");
        remove(tmp);
        shard_list_free(&shards);
        return rc;
    }
    embed_signal_install();
    int outcome = run_shards(&shards, &pp, &out, res);
    res->images = (size_t)out.n;
    int closed = h5_pre_close(&out, &pp.pre, res->failures, res->damaged);
    if (closed < 0 && outcome == EMBED_DONE) outcome = closed;
    shard_list_free(&shards);
    if (outcome != EMBED_DONE) {
        remove(tmp);
        return outcome;
    }
    if (rename(tmp, o->output) != 0) return ws_errorf(WS_ERR_IO, "cannot rename %s to %s", tmp, o->output);
    return *res->damaged ? EMBED_FAILED_SHARDS : EMBED_DONE;
}
