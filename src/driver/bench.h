/* The forward-pass benchmark behind `webssl-dist bench`: the topology and the device setup of
 * embed (driver/device.h), a model of pseudo-random weights sharded over each TP group, random
 * pixels, warm-up batches, then timed batches. Figures are agreed over the world: the slowest
 * rank's batch time and all-reduce time, the largest peak memory. */
#ifndef WEBSSL_DRIVER_BENCH_H
#define WEBSSL_DRIVER_BENCH_H

#include "common/arch.h"
#include "common/dtype.h"

typedef struct {
    const char *arch;     /* NAME or FILE.yaml (required) */
    const char *device;   /* "cpu" or "cuda" */
    int batch, iters, warmup;
    int resolution;       /* 0: the architecture's img_size */
    int tp;               /* divides the world size */
    int threads;          /* CPU threads per rank, 0 = OpenMP default */
    ws_dtype dtype;       /* f32 or bf16 compute */
    ws_dtype allreduce;   /* f32 (default) or bf16 TP all-reduces (ws_model_options.allreduce) */
} bench_options;

/* batch 8, iters 5, warmup 1, native resolution, tp 1, cpu, fp32. */
void bench_options_default(bench_options *o);

typedef struct {
    ws_arch arch;
    int resolution;             /* R run */
    int dp, tp, world_rank;
    double seconds_per_batch;   /* slowest rank */
    double comm_seconds;        /* slowest rank, in the all-reduces of all timed batches */
    double images_per_second;   /* one TP group: batch / seconds_per_batch */
    double gflops_per_second;   /* arch_flops_per_image * images_per_second */
    double peak_rss_mb;         /* largest over the ranks */
    double weight_mb;           /* this rank's weight allocation */
    char gemm[320];             /* the GEMM path and CPU features used (ws_model_gemm_info) */
} bench_result;

/* Collective over MPI_COMM_WORLD (MPI up, left up). WS_OK with *res set on every rank, or the same
 * error on every rank (bad architecture or tp, no device, out of memory). */
int bench_run(const bench_options *o, bench_result *res);

#endif
