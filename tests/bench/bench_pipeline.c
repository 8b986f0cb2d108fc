/* Decode-only throughput of the image pipeline (data/pipeline.h), the model's share taken out:
 * every shard of INPUT through pipeline_open / pipeline_next_batch with THREADS decoding threads
 * and a consumer that only gives each batch back (as embed's leader does, params.hold), i.e.
 * embed with a model that costs nothing. Prints one JSON line: threads, images, failures,
 * seconds (wall, first open to last close), images_per_s, decode_s (summed over the threads),
 * read_s. The preprocessing is embed's on the CPU backend: ImageNet crop 256 -> R, floats.
 * usage: bench_pipeline INPUT THREADS [R 224] [BATCH 32] [SHARD_SIZE 1000] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/error.h"
#include "common/log.h"
#include "data/input_spec.h"
#include "data/pipeline.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench_pipeline INPUT THREADS [R] [BATCH] [SHARD_SIZE]\n");
        return 1;
    }
    ws_log_set_level(WS_LOG_ERROR);
    ws_pipeline_params pp;
    pipeline_params_default(&pp);
    pp.threads = atoi(argv[2]);
    pp.resolution = argc > 3 ? atoi(argv[3]) : 224;
    pp.batch = argc > 4 ? atoi(argv[4]) : 32;
    pp.hold = 1;
    ws_shard_list shards;
    if (input_spec_expand(argv[1], argc > 5 ? (size_t)atol(argv[5]) : 1000, &shards) != WS_OK) {
        fprintf(stderr, "bench_pipeline: %s\n", ws_error_message());
        return 1;
    }
    size_t images = 0, failures = 0;
    double decode = 0, read = 0, t0 = now();
    for (size_t s = 0; s < shards.count; s++) {
        ws_pipeline *p;
        if (pipeline_open(&shards.shards[s], &pp, &p) != WS_OK) {
            fprintf(stderr, "bench_pipeline: %s\n", ws_error_message());
            return 1;
        }
        const ws_batch *b;
        while ((b = pipeline_next_batch(p)) && b->n > 0) pipeline_release(p, b);
        double rd, dec;
        pipeline_seconds(p, &rd, &dec);
        read += rd, decode += dec;
        images += pipeline_images(p), failures += pipeline_failures(p);
        pipeline_close(p);
    }
    double wall = now() - t0;
    printf("{\"threads\": %d, \"images\": %zu, \"failures\": %zu, \"seconds\": %.4f, \"images_per_s\": %.1f, "
           "\"decode_s\": %.4f, \"read_s\": %.4f}\n", pp.threads, images, failures, wall, (double)images / wall, decode,
           read);
    shard_list_free(&shards);
    return 0;
}
