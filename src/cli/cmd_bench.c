/* `webssl-dist bench`: parses the flags, runs the benchmark of the driver (driver/bench.h: the
 * forward pass of an architecture with random weights on one rank, or under mpirun/srun on dp x
 * tp ranks set up as embed does) and prints images/s, GFLOP/s, peak resident memory and the time
 * in the TP all-reduces; optional JSON report (world rank 0, slowest rank's figures). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/flags.h"
#include "comm/topology.h"
#include "driver/bench.h"
#include "webssl.h"

static const char *usage =
    "usage: webssl-dist bench --arch NAME|FILE.yaml [--batch B] [--iters N] [--warmup W]\n"
    "                         [--dtype fp32|bf16] [--threads T] [--resolution R] [--device cpu|cuda]\n"
    "                         [--tp N] [--allreduce f32|bf16] [--json FILE]\n"
    "Runs the forward pass on random weights and random pixels and reports images/s, GFLOP/s and\n"
    "peak memory. Defaults: batch 8, iters 5, warmup 1 (4 on cuda, where the passes are captured as\n"
    "graphs), fp32, native resolution, tp 1.\n"
    "Under mpirun/srun the ranks form dp x tp groups (tp divides the world size); the report is\n"
    "one TP group's images/s and the slowest rank's times, plus the seconds spent in all-reduces.\n";

static int write_json(const char *path, const bench_options *o, const char *dtype, const bench_result *r) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "arch", r->arch.name);
    cJSON_AddStringToObject(j, "dtype", dtype);
    cJSON_AddNumberToObject(j, "batch", o->batch);
    cJSON_AddNumberToObject(j, "resolution", r->resolution);
    cJSON_AddNumberToObject(j, "threads", o->threads);
    cJSON_AddNumberToObject(j, "iters", o->iters);
    cJSON_AddNumberToObject(j, "seconds_per_batch", r->seconds_per_batch);
    cJSON_AddNumberToObject(j, "images_per_second", r->images_per_second);
    cJSON_AddNumberToObject(j, "gflops_per_second", r->gflops_per_second);
    cJSON_AddNumberToObject(j, "peak_rss_mb", r->peak_rss_mb);
    cJSON_AddNumberToObject(j, "tp", r->tp);
    cJSON_AddNumberToObject(j, "dp", r->dp);
    cJSON_AddNumberToObject(j, "comm_seconds", r->comm_seconds);
    cJSON_AddStringToObject(j, "allreduce", ws_dtype_name(o->allreduce));
    cJSON_AddStringToObject(j, "gemm", r->gemm);
    cJSON_AddStringToObject(j, "version", ws_version());
    char *s = cJSON_Print(j);
    cJSON_Delete(j);
    FILE *f = s ? fopen(path, "w") : NULL;
    int bad = !f || fputs(s, f) < 0 || fputc('\n', f) < 0;
    if (f && fclose(f)) bad = 1;
    free(s);
    if (bad) fprintf(stderr, "webssl-dist bench: cannot write %s\n", path);
    return bad;
}

/* --json PATH can be written: created (and removed again) when missing, opened for writing when
 * present; checked before the benchmark runs so that a bad path does not cost a whole run. */
static int json_path_check(const char *path) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NONBLOCK, 0644), created = fd >= 0;
    if (fd < 0 && errno == EEXIST) fd = open(path, O_WRONLY | O_NONBLOCK);
    if (fd < 0) return ws_errorf(WS_ERR_IO, "--json %s: cannot be written: %s", path, strerror(errno));
    close(fd);
    if (created) unlink(path);
    return WS_OK;
}

static int bench_cmd(int argc, char **argv, int world_rank) {
    const char *json = NULL, *dtype = "fp32";
    bench_options o;
    bench_options_default(&o);
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i];
        if (!strcmp(k, "--help") || !strcmp(k, "-h")) {
            if (world_rank == 0) fputs(usage, stdout);
            return WS_EXIT_OK;
        }
        if (i + 1 >= argc) {
            if (world_rank == 0) fprintf(stderr, "webssl-dist bench: %s needs a value\n%s", k, usage);
            return WS_EXIT_USAGE;
        }
        const char *v = argv[++i];
        int rc = WS_OK;
        if (!strcmp(k, "--arch")) o.arch = v;
        else if (!strcmp(k, "--batch")) rc = flag_int(k, v, &o.batch);
        else if (!strcmp(k, "--iters")) rc = flag_int(k, v, &o.iters);
        else if (!strcmp(k, "--tp")) rc = flag_int(k, v, &o.tp);
        else if (!strcmp(k, "--warmup")) rc = flag_int(k, v, &o.warmup);
        else if (!strcmp(k, "--threads")) rc = flag_int(k, v, &o.threads);
        else if (!strcmp(k, "--resolution")) rc = flag_int(k, v, &o.resolution);
        else if (!strcmp(k, "--device")) o.device = v;
        else if (!strcmp(k, "--json")) json = v;
        else if (!strcmp(k, "--allreduce")) rc = flag_allreduce(v, &o.allreduce);
        else if (!strcmp(k, "--dtype")) {
            dtype = v;
            if (ws_dtype_parse(v, &o.dtype) || o.dtype == WS_DTYPE_F16)
                rc = ws_errorf(WS_ERR_ARG, "--dtype must be fp32 or bf16, got '%s'", v);
        } else {
            if (world_rank == 0) fprintf(stderr, "webssl-dist bench: unknown option %s\n%s", k, usage);
            return WS_EXIT_USAGE;
        }
        if (rc != WS_OK) {
            if (world_rank == 0) fprintf(stderr, "webssl-dist bench: %s\n", ws_error_message());
            return WS_EXIT_USAGE;
        }
    }
    if (!o.arch) {
        if (world_rank == 0) fprintf(stderr, "webssl-dist bench: --arch is required\n%s", usage);
        return WS_EXIT_USAGE;
    }
    int rc = json && world_rank == 0 ? json_path_check(json) : WS_OK;
    MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (rc != WS_OK) {
        if (world_rank == 0) fprintf(stderr, "webssl-dist bench: %s\n", ws_error_message());
        return WS_EXIT_USAGE;
    }
    bench_result r;
    if (bench_run(&o, &r) != WS_OK) {   /* the same error on every rank: say it once */
        if (world_rank == 0) fprintf(stderr, "webssl-dist bench: %s\n", ws_error_message());
        return WS_EXIT_USAGE;
    }
    if (world_rank != 0) return WS_EXIT_OK;
    printf("arch %s  dtype %s  batch %d  resolution %d  threads %d\n%s\n", r.arch.name, dtype, o.batch,
           r.resolution, o.threads, r.gemm);
    printf("%.4f s/batch  %.3f img/s  %.1f GFLOP/s  peak RSS %.0f MB  (weights %.0f MB)  dp %d x tp %d, "
           "all-reduce %.1f%%\n", r.seconds_per_batch, r.images_per_second, r.gflops_per_second, r.peak_rss_mb,
           r.weight_mb, r.dp, r.tp, 100.0 * r.comm_seconds / (r.seconds_per_batch * o.iters));
    return json && write_json(json, &o, dtype, &r) ? WS_EXIT_USAGE : WS_EXIT_OK;
}

int cmd_bench(int argc, char **argv) {
    if (topology_mpi_init(&argc, &argv) != WS_OK) {
        fprintf(stderr, "webssl-dist bench: %s\n", ws_error_message());
        return WS_EXIT_USAGE;
    }
    int world_rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    int code = bench_cmd(argc, argv, world_rank);
    topology_mpi_finalize();
    return code;
}
