/* What an embed run is asked to do: the options of `webssl-dist embed` (`webssl-dist embed --help`), their
 * defaults and the checks that span several of them (embed_options.c). The CLI fills them from its
 * flag table (cli/cmd_embed.c) and the driver reads them. */
#ifndef WEBSSL_DRIVER_EMBED_OPTIONS_H
#define WEBSSL_DRIVER_EMBED_OPTIONS_H

#include "common/dtype.h"
#include "data/stream.h"

#define WS_DEFAULT_READ_AHEAD 2
#define WS_MAX_READ_AHEAD 16

typedef struct {
    const char *model;        /* --model PATH (required) */
    const char *arch;         /* --arch NAME|FILE.yaml, or NULL */
    const char *input;        /* --input SPEC (required) */
    const char *output;       /* --output DIR (required) */
    const char *stats;        /* --stats FILE, or NULL */
    const char *head;         /* --head FILE: the DINO head for head/proto features, or NULL (then
                               * the head of --model, a teacher checkpoint) */
    int posembed;             /* --posembed original|hf: a ws_posembed_rule, -1 = by checkpoint format
                               * (original for .pth, hf otherwise) */
    const char *device;       /* --device cpu|cuda (default cpu) */
    int tp;                   /* --tp N (default 1); 0 = auto (driver/tp_auto.h) */
    int batch;                /* --batch B (default 32) */
    int threads;              /* --threads T compute threads per rank (0 = OpenMP default) */
    int decode_threads;       /* --decode-threads D image decoding threads per TP leader (default 2) */
    ws_dtype dtype;           /* --dtype fp32|bf16 (compute) */
    ws_dtype allreduce;       /* --allreduce fp32|bf16: the TP all-reduces' dtype (default fp32) */
    ws_dtype out_dtype;       /* --out-dtype fp16|fp32 (default fp16) */
    unsigned features;        /* --features list (WS_FEAT_*; default cls,patch_mean) */
    int preprocess;           /* --preprocess crop|square: a ws_preprocess_mode, -1 = the model's */
    int resize;               /* --resize S (crop mode), 0 = the model's */
    int resolution;           /* --resolution R, 0 = the model's */
    int shard_size;           /* --shard-size N images per directory/list shard */
    long long max_pixels;     /* --max-pixels N: refuse larger images (status "too large"); 0 = default */
    int exif_transpose;       /* --exif-transpose: apply the EXIF orientation before resizing */
    int fast_decode;          /* --fast-decode: JPEG DCT-domain downscaling (not pixel-exact) */
    const char *image_exts;   /* --image-ext LIST: tar samples' image extensions, NULL = default */
    int read_ahead;           /* --read-ahead N shards read at once per TP group (1..WS_MAX_READ_AHEAD) */
    ws_stream_opts stream;    /* --retries, --retry-wait, --io-timeout, --max-shard-bytes, --min-rate: streamed
                               * (http(s)://, pipe:) shards */
    int overwrite;            /* --overwrite: inputs other than run.json's may replace the earlier
                               * results of shards with the same names */
} embed_options;

/* Every option at its default: cpu, tp 1, batch 32, fp32 compute and all-reduces, f16 output, cls
 * and patch_mean, the model's preprocessing, 2 decoding threads, the stream defaults. */
void embed_options_default(embed_options *o);
/* The checks that span several options (--head without head features). WS_OK or WS_ERR_ARG. */
int embed_options_check(const embed_options *o);

#endif
