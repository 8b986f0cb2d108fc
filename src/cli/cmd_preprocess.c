/* `webssl-dist preprocess`: runs the image pipeline alone and writes the exact model inputs to
 * one HDF5 file (io/h5_preprocess.h), under a temporary name renamed when complete. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/flags.h"
#include "driver/embed_signal.h"
#include "common/error.h"
#include "common/log.h"
#include "data/image_status.h"
#include "data/input_spec.h"
#include "data/pipeline.h"
#include "io/h5_preprocess.h"

static const char *usage =
    "usage: webssl-dist preprocess --input SPEC --output FILE.h5 [--arch NAME|FILE.yaml]\n"
    "         [--preprocess crop|square] [--resize S] [--resolution R] [--shard-size N]\n"
    "         [--decode-threads T] [--batch B] [--max-pixels N] [--exif-transpose] [--decode exact|fast]\n"
    "(--threads T is the older spelling of --decode-threads T, --fast-decode of --decode fast)\n";

int cmd_preprocess(int argc, char **argv) {
    const char *input = NULL, *output = NULL, *arch_name = NULL;
    int shard_size = WS_DEFAULT_SHARD_SIZE, resize = 0, res = 0;
    long long v = 0;
    ws_pipeline_params pp;
    pipeline_params_default(&pp);
    int rc = WS_OK, mode = -1;
    for (int i = 1; i < argc && rc >= 0; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(usage, stdout); return WS_EXIT_OK; }
        else if (!strcmp(a, "--exif-transpose")) pp.decode.exif_transpose = 1;
        else if (!strcmp(a, "--fast-decode")) pp.fast_decode = 1;
        else if (!val) rc = ws_errorf(WS_ERR_ARG, "unknown option or missing value: %s", a);
        else if (++i, !strcmp(a, "--input")) input = val;
        else if (!strcmp(a, "--output")) output = val;
        else if (!strcmp(a, "--arch")) arch_name = val;
        else if (!strcmp(a, "--preprocess")) {
            if (!strcmp(val, "crop")) mode = WS_PREPROCESS_CROP;
            else if (!strcmp(val, "square")) mode = WS_PREPROCESS_SQUARE;
            else rc = ws_errorf(WS_ERR_ARG, "--preprocess wants crop or square, got '%s'", val);
        }
        else if (!strcmp(a, "--resize")) rc = flag_int(a, val, &resize);
        else if (!strcmp(a, "--resolution")) rc = flag_int(a, val, &res);
        else if (!strcmp(a, "--shard-size")) rc = flag_int(a, val, &shard_size);
        else if (!strcmp(a, "--decode")) rc = flag_decode(val, &pp.fast_decode);
        else if (!strcmp(a, "--decode-threads") || !strcmp(a, "--threads")) rc = flag_int("--decode-threads", val, &pp.threads);
        else if (!strcmp(a, "--batch")) rc = flag_int(a, val, &pp.batch);
        else if (!strcmp(a, "--max-pixels")) { rc = flag_long(a, val, &v); pp.decode.max_pixels = (uint64_t)v; }
        else rc = ws_errorf(WS_ERR_ARG, "unknown option: %s", a);
    }
    if (rc >= 0 && (!input || !output)) rc = ws_errorf(WS_ERR_ARG, "--input and --output are required");
    if (rc >= 0 && arch_name) {
        ws_arch arch;
        if ((rc = arch_resolve(arch_name, &arch)) >= 0) pp.pre = arch.preprocess;
    }
    if (rc < 0) {
        fprintf(stderr, "webssl-dist preprocess: %s\n%s", ws_error_message(), usage);
        return WS_EXIT_USAGE;
    }
    if (mode >= 0) pp.pre.mode = (ws_preprocess_mode)mode;
    if (resize) pp.pre.resize = (int)resize;
    if (res) pp.pre.crop = (int)res;
    pp.keep_u8 = 1;
    ws_shard_list shards;
    if ((rc = input_spec_expand(input, (size_t)shard_size, &shards)) < 0) {
        fprintf(stderr, "webssl-dist preprocess: %s\n", ws_error_message());
        return WS_EXIT_USAGE;
    }
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.tmp", output);
    h5_pre_file out;
    if ((rc = h5_pre_open(&out, tmp, pp.pre.crop)) < 0) {
        fprintf(stderr, "webssl-dist preprocess: %s\n", ws_error_message());
        h5_pre_close(&out, &pp.pre, 0, "");
        remove(tmp);
        shard_list_free(&shards);
        return WS_EXIT_USAGE;
    }
    embed_signal_install();
    size_t failures = 0;
    char damaged[4096] = "";
    int exit_code = WS_EXIT_OK;
    for (size_t s = 0; s < shards.count && exit_code == WS_EXIT_OK; s++) {
        ws_shard *sh = &shards.shards[s];
        ws_pipeline *p;
        if ((rc = pipeline_open(sh, &pp, &p)) < 0) {
            LOG_ERROR("%s: %s", sh->name, ws_error_message());
            size_t len = strlen(damaged);
            snprintf(damaged + len, sizeof damaged - len, "%s%s", len ? "," : "", sh->name);
            continue;
        }
        const ws_batch *b;
        while ((b = pipeline_next_batch(p)) && b->n > 0) {
            if (h5_pre_append(&out, b->n, b->keys, sh->name, b->status, b->u8, b->pixels) < 0) {
                exit_code = WS_EXIT_USAGE;
                break;
            }
            if (embed_signal_pending()) { exit_code = WS_EXIT_INTERRUPTED; break; }
        }
        const char *why;
        if (exit_code == WS_EXIT_OK && pipeline_damaged(p, &why)) {
            size_t len = strlen(damaged);
            snprintf(damaged + len, sizeof damaged - len, "%s%s", len ? "," : "", sh->name);
        }
        failures += pipeline_failures(p);
        LOG_INFO("%s: %zu images, %zu failed", sh->name, pipeline_images(p), pipeline_failures(p));
        pipeline_close(p);
    }
    size_t n = (size_t)out.n;
    if (h5_pre_close(&out, &pp.pre, failures, damaged) < 0 && exit_code == WS_EXIT_OK) exit_code = WS_EXIT_USAGE;
    shard_list_free(&shards);
    if (exit_code != WS_EXIT_OK) {
        if (exit_code == WS_EXIT_USAGE) fprintf(stderr, "webssl-dist preprocess: %s\n", ws_error_message());
        remove(tmp);
        return exit_code;
    }
    if (rename(tmp, output) != 0) {
        fprintf(stderr, "webssl-dist preprocess: cannot rename %s to %s\n", tmp, output);
        return WS_EXIT_USAGE;
    }
    printf("%s: %zu images, %zu failed%s%s\n", output, n, failures, *damaged ? ", damaged shards: " : "", damaged);
    return *damaged ? WS_EXIT_FAILED_SHARDS : WS_EXIT_OK;
}
