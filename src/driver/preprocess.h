/* The engine behind `webssl-dist preprocess`: runs the image pipeline alone over every shard of an
 * input spec and writes the exact model inputs (uint8 images and normalised tensors) to one HDF5
 * file (io/h5_preprocess.h), under a temporary name renamed when complete. One process, no MPI. */
#ifndef WEBSSL_DRIVER_PREPROCESS_H
#define WEBSSL_DRIVER_PREPROCESS_H

#include <stddef.h>

typedef struct {
    const char *input;        /* --input SPEC (required) */
    const char *output;       /* --output FILE.h5 (required) */
    const char *arch;         /* --arch NAME|FILE.yaml: its preprocessing, or NULL (ImageNet crop 256 -> 224) */
    int preprocess;           /* --preprocess crop|square: a ws_preprocess_mode, -1 = the architecture's */
    int resize;               /* --resize S, 0 = the architecture's */
    int resolution;           /* --resolution R, 0 = the architecture's crop */
    int shard_size;           /* --shard-size N images per directory/list shard */
    int decode_threads;       /* --decode-threads D image decoding threads */
    int batch;                /* --batch B images per pipeline batch */
    long long max_pixels;     /* --max-pixels N: refuse larger images; 0 = no limit */
    int exif_transpose;       /* --exif-transpose */
    int fast_decode;          /* --fast-decode */
    const char *image_exts;   /* --image-ext LIST: tar samples' image extensions (data/wds_name.h), NULL = default */
} preprocess_options;

/* Every option at its default: the pipeline's (data/pipeline.h) and WS_DEFAULT_SHARD_SIZE. */
void preprocess_options_default(preprocess_options *o);

typedef struct {
    size_t images;            /* rows written */
    size_t failures;          /* rows whose image failed (status != 0) */
    char damaged[4096];       /* comma-separated names of the shards that could not be read whole */
} preprocess_result;

/* Run `o`. Returns an embed_outcome (driver/embed.h: EMBED_DONE, EMBED_FAILED_SHARDS when a
 * shard was damaged, EMBED_INTERRUPTED by a stop signal, the temporary file then removed), or a
 * negative ws_err with a message naming the input, the output or the flag. */
int preprocess_main(const preprocess_options *o, preprocess_result *res);

#endif
