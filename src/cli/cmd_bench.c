/* `webssl-dist bench`: parses the flags, runs the benchmark of the driver (driver/bench.h: the
 * forward pass of an architecture with random weights on one rank, or under mpirun/srun on dp x
 * tp ranks set up as embed does) and prints images/s, GFLOP/s, peak resident memory and the time
 * in the TP all-reduces; optional JSON report (world rank 0, slowest rank's figures). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/flags.h"
#include "comm/topology.h"
#include "driver/bench.h"
#include "webssl.h"

typedef struct {
    bench_options b;
    const char *json;
} bench_cli;

#define O(field) offsetof(bench_cli, field)

static const flag_choice devices[] = {{"cpu", 0}, {"cuda", 0}, {NULL, 0}};

static const flag_spec flags[] = {
    FLAG("--arch", "NAME|FILE.yaml", FLAG_STRING, O(b.arch), "architecture", .attrs = FLAG_REQUIRED),
    FLAG("--batch", "B", FLAG_INT, O(b.batch), "images per forward pass"),
    FLAG("--iters", "N", FLAG_INT, O(b.iters), "timed batches"),
    FLAG("--warmup", "W", FLAG_INT, O(b.warmup), "batches before timing (at least 4 on cuda, where the passes\n"
     "are captured as graphs)"),
    FLAG("--dtype", NULL, FLAG_DTYPE, O(b.dtype), "compute dtype", .words = "fp32|bf16"),
    FLAG("--threads", "T", FLAG_INT, O(b.threads), "compute threads per rank [OpenMP default]"),
    FLAG("--resolution", "R", FLAG_INT, O(b.resolution), "input side [the architecture's]"),
    FLAG("--device", NULL, FLAG_WORD, O(b.device), "compute device", .choices = devices),
    FLAG("--tp", "N", FLAG_INT, O(b.tp), "tensor-parallel ranks per group (divides the world size)"),
    FLAG("--allreduce", NULL, FLAG_DTYPE, O(b.allreduce), "dtype of the --tp all-reduces", .words = "fp32|bf16"),
    FLAG("--json", "FILE", FLAG_STRING, O(json), "the report as JSON"),
};

static const flag_table table = FLAG_TABLE("bench",
    "Runs the forward pass on random weights and random pixels and reports images/s, GFLOP/s and\n"
    "peak memory. Under mpirun/srun the ranks form dp x tp groups (tp divides the world size); the\n"
    "report is one TP group's images/s and the slowest rank's times, plus the seconds spent in\n"
    "all-reduces.\n", flags);

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
    bench_cli c = {.json = NULL};
    bench_options_default(&c.b);
    int code = flags_parse_or_exit(&table, argc, argv, &c, sizeof c, world_rank == 0);
    if (code >= 0) return code;
    const bench_options o = c.b;
    const char *json = c.json, *dtype = ws_dtype_name(o.dtype);
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
