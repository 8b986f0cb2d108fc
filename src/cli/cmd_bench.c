/* `webssl-dist bench`: forward-pass throughput of an architecture with random weights on one
 * rank, or under mpirun/srun on dp x tp ranks (each TP group runs the model sharded, as embed
 * does): images/s, GFLOP/s (arch_flops_per_image), peak resident memory, time in the TP
 * all-reduces; optional JSON report (world rank 0, slowest rank's figures). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "cli/commands.h"
#include "comm/comm_mpi.h"
#include "comm/topology.h"
#include "webssl.h"

static const char *usage =
    "usage: webssl-dist bench --arch NAME|FILE.yaml [--batch B] [--iters N] [--warmup W]\n"
    "                         [--dtype fp32|bf16] [--threads T] [--resolution R] [--device cpu|cuda]\n"
    "                         [--tp N] [--json FILE]\n"
    "Runs the forward pass on random weights and random pixels and reports images/s, GFLOP/s and\n"
    "peak memory. Defaults: batch 8, iters 5, warmup 1, fp32, native resolution, tp 1.\n"
    "Under mpirun/srun the ranks form dp x tp groups (tp divides the world size); the report is\n"
    "one TP group's images/s and the slowest rank's times, plus the seconds spent in all-reduces.\n";

/* The run's MPI state, released by cmd_bench after the model. */
typedef struct {
    ws_topology topo;
    int have_topology;
    ws_comm *comm;   /* the TP group's communicator (tp > 1) */
} bench_mpi;

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int parse_int(const char *flag, const char *v, int lo, int *out) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || *end || x < lo || x > INT_MAX) {
        fprintf(stderr, "webssl-dist bench: %s must be an integer >= %d, got '%s'\n", flag, lo, v);
        return 1;
    }
    *out = (int)x;
    return 0;
}

static int write_json(const char *path, const ws_arch *a, const char *dtype, int B, int R, int threads,
                      int iters, double sec_per_iter, double img_s, double gflops, double peak_mb,
                      const ws_topology *t, double comm_s, const char *gemm) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "arch", a->name);
    cJSON_AddStringToObject(j, "dtype", dtype);
    cJSON_AddNumberToObject(j, "batch", B);
    cJSON_AddNumberToObject(j, "resolution", R);
    cJSON_AddNumberToObject(j, "threads", threads);
    cJSON_AddNumberToObject(j, "iters", iters);
    cJSON_AddNumberToObject(j, "seconds_per_batch", sec_per_iter);
    cJSON_AddNumberToObject(j, "images_per_second", img_s);
    cJSON_AddNumberToObject(j, "gflops_per_second", gflops);
    cJSON_AddNumberToObject(j, "peak_rss_mb", peak_mb);
    cJSON_AddNumberToObject(j, "tp", t->tp);
    cJSON_AddNumberToObject(j, "dp", t->dp);
    cJSON_AddNumberToObject(j, "comm_seconds", comm_s);
    cJSON_AddStringToObject(j, "gemm", gemm);
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

static int bench_rank(int argc, char **argv, bench_mpi *mp) {
    const char *arch_name = NULL, *json = NULL, *dtype = "fp32";
    int B = 8, iters = 5, warmup = 1, R = 0, tp = 1;
    ws_model_options o;
    ws_model_options_init(&o);
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i];
        if (!strcmp(k, "--help") || !strcmp(k, "-h")) {
            fputs(usage, stdout);
            return WS_EXIT_OK;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "webssl-dist bench: %s needs a value\n%s", k, usage);
            return WS_EXIT_USAGE;
        }
        const char *v = argv[++i];
        int bad = 0;
        if (!strcmp(k, "--arch")) arch_name = v;
        else if (!strcmp(k, "--batch")) bad = parse_int(k, v, 1, &B);
        else if (!strcmp(k, "--iters")) bad = parse_int(k, v, 1, &iters);
        else if (!strcmp(k, "--tp")) bad = parse_int(k, v, 1, &tp);
        else if (!strcmp(k, "--warmup")) bad = parse_int(k, v, 0, &warmup);
        else if (!strcmp(k, "--threads")) bad = parse_int(k, v, 0, &o.threads);
        else if (!strcmp(k, "--resolution")) bad = parse_int(k, v, 1, &R);
        else if (!strcmp(k, "--device")) o.device = v;
        else if (!strcmp(k, "--json")) json = v;
        else if (!strcmp(k, "--dtype")) {
            dtype = v;
            if (ws_dtype_parse(v, &o.compute) || o.compute == WS_DTYPE_F16) {
                fprintf(stderr, "webssl-dist bench: --dtype must be fp32 or bf16, got '%s'\n", v);
                return WS_EXIT_USAGE;
            }
        } else {
            fprintf(stderr, "webssl-dist bench: unknown option %s\n%s", k, usage);
            return WS_EXIT_USAGE;
        }
        if (bad) return WS_EXIT_USAGE;
    }
    if (!arch_name) {
        fprintf(stderr, "webssl-dist bench: --arch is required\n%s", usage);
        return WS_EXIT_USAGE;
    }
    ws_arch a;
    if (arch_resolve(arch_name, &a)) {
        fprintf(stderr, "webssl-dist bench: %s\n", ws_error_message());
        return WS_EXIT_USAGE;
    }
    if (!R) R = a.img_size;
    int rc = topology_create(tp, &mp->topo);
    mp->have_topology = rc == WS_OK;
    if (rc == WS_OK) rc = topology_check_heads(&mp->topo, a.num_heads, a.name);
    if (rc == WS_OK && tp > 1 && !(mp->comm = comm_mpi_create(mp->topo.tp_comm)))
        rc = ws_errorf(WS_ERR_NOMEM, "TP communicator");
    if (rc) {   /* the same error on every rank: say it once */
        int world_rank = 0;
        MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
        if (world_rank == 0) fprintf(stderr, "webssl-dist bench: %s\n", ws_error_message());
        return WS_EXIT_USAGE;
    }
    const int rank0 = mp->topo.world_rank == 0;
    o.tp_rank = mp->topo.tp_rank;
    o.tp_size = tp;
    o.comm = mp->comm;
    ws_model *m = NULL;
    if (ws_model_create_random(&a, 1, &o, &m)) {
        fprintf(stderr, "webssl-dist bench: %s\n", ws_error_message());
        return WS_EXIT_USAGE;
    }
    size_t npix = (size_t)B * 3 * R * R, C = (size_t)a.embed_dim;
    float *pixels = malloc(npix * sizeof(float)), *cls = malloc((size_t)B * C * sizeof(float));
    float *mean = malloc((size_t)B * C * sizeof(float));
    if (!pixels || !cls || !mean) {
        fprintf(stderr, "webssl-dist bench: out of memory for batch %d at %d x %d\n", B, R, R);
        ws_model_free(m);
        free(pixels); free(cls); free(mean);
        return WS_EXIT_USAGE;
    }
    uint32_t s = 12345u;
    for (size_t i = 0; i < npix; i++) {
        s = s * 1664525u + 1013904223u;
        pixels[i] = (float)(s >> 8) / 16777216.0f * 4.0f - 2.0f;
    }
    ws_features f = {cls, mean, NULL};
    for (int i = 0; i < warmup && !rc; i++) rc = ws_model_forward(m, pixels, B, R, &f);
    if (mp->comm) mp->comm->comm_seconds = 0;
    double t0 = now_seconds();
    for (int i = 0; i < iters && !rc; i++) rc = ws_model_forward(m, pixels, B, R, &f);
    double dt = (now_seconds() - t0) / iters;
    if (rc) {
        fprintf(stderr, "webssl-dist bench: %s\n", ws_error_message());
        ws_model_free(m);
        free(pixels); free(cls); free(mean);
        return WS_EXIT_USAGE;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    /* The slowest rank's batch time, all-reduce time and memory. */
    double worst[3] = {dt, mp->comm ? mp->comm->comm_seconds : 0.0, ru.ru_maxrss / 1024.0};
    MPI_Allreduce(MPI_IN_PLACE, worst, 3, MPI_DOUBLE, MPI_MAX, mp->topo.world);
    dt = worst[0];
    double comm_s = worst[1];
    double img_s = B / dt, gflops = arch_flops_per_image(&a, R) * B / dt * 1e-9;
    double peak_mb = worst[2];
    if (rank0) printf("arch %s  dtype %s  batch %d  resolution %d  threads %d\n%s\n", a.name, dtype, B, R,
                      o.threads, ws_model_gemm_info(m));
    if (rank0)
        printf("%.4f s/batch  %.3f img/s  %.1f GFLOP/s  peak RSS %.0f MB  (weights %.0f MB)  "
               "dp %d x tp %d, all-reduce %.1f%%\n", dt, img_s, gflops, peak_mb,
               ws_model_weight_bytes(m) / 1048576.0, mp->topo.dp, tp, 100.0 * comm_s / (dt * iters));
    char gemm[320];
    snprintf(gemm, sizeof gemm, "%s", ws_model_gemm_info(m));
    ws_model_free(m);
    free(pixels); free(cls); free(mean);
    if (rank0 && json &&
        write_json(json, &a, dtype, B, R, o.threads, iters, dt, img_s, gflops, peak_mb, &mp->topo, comm_s, gemm))
        return WS_EXIT_USAGE;
    return WS_EXIT_OK;
}

int cmd_bench(int argc, char **argv) {
    if (topology_mpi_init(&argc, &argv) != WS_OK) {
        fprintf(stderr, "webssl-dist bench: %s\n", ws_error_message());
        return WS_EXIT_USAGE;
    }
    bench_mpi mp = {.have_topology = 0, .comm = NULL};
    int code = bench_rank(argc, argv, &mp);
    comm_free(mp.comm);
    if (mp.have_topology) topology_free(&mp.topo);
    topology_mpi_finalize();
    return code;
}
