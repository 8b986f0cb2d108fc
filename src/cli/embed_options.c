/* `embed` option parsing (see embed_options.h). */
#include "cli/commands.h"
#include "cli/flags.h"
#include "common/error.h"
#include "data/input_spec.h"
#include "io/h5_writer.h"
#include "common/arch.h"
#include "webssl.h"

#include <stdlib.h>
#include <string.h>

void embed_options_usage(FILE *f) {
    fprintf(f,
        "usage: webssl-dist embed --model PATH --input SPEC --output DIR [options]\n"
        "  --model PATH            HF model directory, .safetensors or .pth\n"
        "  --arch NAME|FILE.yaml   architecture (default: from config.json or the tensor shapes)\n"
        "  --input SPEC            'shards/{00000..00099}.tar', a glob, a directory, @list.txt,\n"
        "                          'https://host/shard-{0000..0099}.tar' or 'pipe:CMD'\n"
        "  --output DIR            one HDF5 file per input shard; rerun to resume\n"
        "  --tp N|auto             tensor-parallel ranks per group (divides the world size) [1];\n"
        "                          auto: the smallest that fits the memory of a rank\n"
        "  --batch B               images per forward pass [32]\n"
        "  --device cpu|cuda       compute device [cpu]\n"
        "  --dtype fp32|bf16       compute dtype [fp32]\n"
        "  --allreduce f32|bf16    dtype of the --tp all-reduces: bf16 halves their traffic [f32]\n"
        "  --features LIST         any of cls,patch_mean,patch,head,proto [cls,patch_mean];\n"
        "                          head, proto: DINO head bottleneck / best prototype\n"
        "  --head FILE             checkpoint holding the DINO head [the --model file]\n"
        "  --out-dtype f16|f32     stored feature type [f16]\n"
        "  --preprocess crop|square  resize+center-crop or square resize [the model's]\n"
        "  --resize S              crop mode: shorter side resized to S [the model's]\n"
        "  --resolution R          model input side, a multiple of the patch size [the model's]\n"
        "  --posembed original|hf|hf-antialias  position-embedding interpolation at other\n"
        "                          resolutions [original for .pth checkpoints, hf-antialias for HF\n"
        "                          ones with register tokens (Dinov2WithRegisters), hf otherwise]\n"
        "  --shard-size N          images per shard for directories and lists [%d]\n"
        "  --max-pixels N          refuse images with more pixels [89478485, as Pillow]\n"
        "  --exif-transpose        apply the EXIF orientation (ignored by default, as Pillow)\n"
        "  --decode exact|fast     fast: a JPEG at least twice the size the resize needs is decoded\n"
        "                          at 1/2, 1/4 or 1/8 scale in the DCT domain, as Pillow's draft\n"
        "                          (faster, not pixel-exact; see docs/images.md) [exact]\n"
        "  --fast-decode           the same as --decode fast\n"
        "  --threads T             compute threads per rank [OpenMP default]\n"
        "  --decode-threads D      image decoding threads per shard being read [2]\n"
        "  --read-ahead N          shards read at once per TP group; batches come from whichever\n"
        "                          has one ready, so a slow source does not stall the others [%d]\n"
        "  --stats FILE            per-rank timing as JSON lines\n"
        "streamed shards (http://, https://, pipe:CMD):\n"
        "  --retries N             retries of a failed transfer or command per shard [%d]\n"
        "  --retry-wait S          seconds before the first retry, doubled for each next one [%g]\n"
        "  --io-timeout S          seconds to connect, or without a byte, before a retry [%g]\n"
        "  --max-shard-bytes N     largest shard body (suffix k, M, G, T: powers of 1024) [%lluG]\n"
        "exit status: 0 done, 1 usage/setup error, 2 some shards failed, 3 interrupted (rerun to resume)\n",
        WS_DEFAULT_SHARD_SIZE, WS_DEFAULT_READ_AHEAD, WS_STREAM_DEFAULT_RETRIES, WS_STREAM_DEFAULT_RETRY_WAIT,
        WS_STREAM_DEFAULT_TIMEOUT, (unsigned long long)(WS_STREAM_DEFAULT_MAX_BYTES >> 30));
}

int embed_options_parse(int argc, char **argv, embed_options *o) {
    memset(o, 0, sizeof *o);
    o->device = "cpu";
    o->tp = 1;
    o->batch = 32;
    o->decode_threads = 2;
    o->dtype = WS_DTYPE_F32;
    o->allreduce = WS_DTYPE_F32;
    o->out_dtype = WS_DTYPE_F16;
    o->features = WS_FEAT_CLS | WS_FEAT_PATCH_MEAN;
    o->preprocess = -1;
    o->posembed = -1;
    o->shard_size = WS_DEFAULT_SHARD_SIZE;
    stream_opts_default(&o->stream);
    o->read_ahead = WS_DEFAULT_READ_AHEAD;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--exif-transpose")) { o->exif_transpose = 1; continue; }
        if (!strcmp(a, "--fast-decode")) { o->fast_decode = 1; continue; }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            o->help = 1;
            return WS_OK;
        }
        if (strncmp(a, "--", 2) != 0) return ws_errorf(WS_ERR_ARG, "unexpected argument '%s'", a);
        if (i + 1 >= argc) return ws_errorf(WS_ERR_ARG, "%s needs a value", a);
        const char *v = argv[++i];
        int rc = WS_OK;
        if (!strcmp(a, "--model")) o->model = v;
        else if (!strcmp(a, "--arch")) o->arch = v;
        else if (!strcmp(a, "--input") && o->input)   /* later options override earlier ones, but two
                                                         * input specs are never meant as one */
            rc = ws_errorf(WS_ERR_ARG, "--input is given twice ('%s' and '%s'): give one spec (braces, globs "
                           "or @list name several shards)", o->input, v);
        else if (!strcmp(a, "--input")) o->input = v;
        else if (!strcmp(a, "--output")) o->output = v;
        else if (!strcmp(a, "--stats")) o->stats = v;
        else if (!strcmp(a, "--head")) o->head = v;
        else if (!strcmp(a, "--tp")) rc = !strcmp(v, "auto") ? (o->tp = 0, WS_OK) : flag_int(a, v, &o->tp);
        else if (!strcmp(a, "--batch")) rc = flag_int(a, v, &o->batch);
        else if (!strcmp(a, "--threads")) rc = flag_int(a, v, &o->threads);
        else if (!strcmp(a, "--decode-threads")) rc = flag_int(a, v, &o->decode_threads);
        else if (!strcmp(a, "--resize")) rc = flag_int(a, v, &o->resize);
        else if (!strcmp(a, "--resolution")) rc = flag_int(a, v, &o->resolution);
        else if (!strcmp(a, "--shard-size")) rc = flag_int(a, v, &o->shard_size);
        else if (!strcmp(a, "--max-pixels")) rc = flag_long(a, v, &o->max_pixels);
        else if (!strcmp(a, "--read-ahead")) rc = flag_int(a, v, &o->read_ahead);
        else if (!strcmp(a, "--retries")) rc = flag_int(a, v, &o->stream.retries);
        else if (!strcmp(a, "--retry-wait")) rc = flag_seconds(a, v, 0, &o->stream.retry_wait);
        else if (!strcmp(a, "--io-timeout")) rc = flag_seconds(a, v, 1, &o->stream.timeout);
        else if (!strcmp(a, "--max-shard-bytes")) rc = flag_bytes(a, v, &o->stream.max_bytes);
        else if (!strcmp(a, "--features")) rc = h5_features_parse(v, &o->features);
        else if (!strcmp(a, "--decode")) rc = flag_decode(v, &o->fast_decode);
        else if (!strcmp(a, "--device")) {
            if (strcmp(v, "cpu") && strcmp(v, "cuda"))
                rc = ws_errorf(WS_ERR_ARG, "--device '%s': expected cpu or cuda", v);
            o->device = v;
        } else if (!strcmp(a, "--dtype")) {
            if (ws_dtype_parse(v, &o->dtype) != WS_OK || o->dtype == WS_DTYPE_F16)
                rc = ws_errorf(WS_ERR_ARG, "--dtype '%s': expected fp32 or bf16", v);
        } else if (!strcmp(a, "--allreduce")) {
            rc = flag_allreduce(v, &o->allreduce);
        } else if (!strcmp(a, "--out-dtype")) {
            if (ws_dtype_parse(v, &o->out_dtype) != WS_OK || o->out_dtype == WS_DTYPE_BF16)
                rc = ws_errorf(WS_ERR_ARG, "--out-dtype '%s': expected f16 or f32", v);
        } else if (!strcmp(a, "--preprocess")) {
            if (!strcmp(v, "crop")) o->preprocess = WS_PREPROCESS_CROP;
            else if (!strcmp(v, "square")) o->preprocess = WS_PREPROCESS_SQUARE;
            else rc = ws_errorf(WS_ERR_ARG, "--preprocess '%s': expected crop or square", v);
        } else if (!strcmp(a, "--posembed")) {
            if (!strcmp(v, "original")) o->posembed = WS_POSEMBED_ORIGINAL;
            else if (!strcmp(v, "hf")) o->posembed = WS_POSEMBED_HF;
            else if (!strcmp(v, "hf-antialias")) o->posembed = WS_POSEMBED_HF_ANTIALIAS;
            else rc = ws_errorf(WS_ERR_ARG, "--posembed '%s': expected original, hf or hf-antialias", v);
        } else {
            return ws_errorf(WS_ERR_ARG, "unknown option '%s' (see webssl-dist embed --help)", a);
        }
        if (rc != WS_OK) return rc;
    }
    if (!o->model) return ws_errorf(WS_ERR_ARG, "--model is required");
    if (!o->input) return ws_errorf(WS_ERR_ARG, "--input is required");
    if (!o->output) return ws_errorf(WS_ERR_ARG, "--output is required");
    if (o->head && !(o->features & (WS_FEAT_HEAD | WS_FEAT_PROTO)))
        return ws_errorf(WS_ERR_ARG, "--head %s: only used with --features head or proto", o->head);
    return WS_OK;
}
