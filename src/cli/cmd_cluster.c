/* `webssl-dist cluster`: flags to cluster_options, then the curate library (curate/cluster.h). */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/curate_flags.h"
#include "common/error.h"
#include "common/log.h"
#include "curate/cluster.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: webssl-dist cluster --input DIR --k K[,K2,...] --output CDIR [options]\n"
            "  k-means over the embedding shards of DIR (an embed output); with several K, hierarchical\n"
            "  (each level clusters the previous level's centroids, finest first)\n"
            "  --metric cosine|l2      cosine: spherical k-means on unit rows (default)\n"
            "  --feature cls|patch_mean   the embedding dataset (default cls)\n"
            "  --iters N               k-means iterations (default 20)\n"
            "  --max-per-centroid N    training rows per centroid (default 256)\n"
            "  --seed S                sampling, initialisation and splits (default 1234)\n"
            "  --init FILE.h5          start from these centroids (dataset centroids [k, D])\n"
            "  --resample-steps N      hierarchical: resampling steps per level (default 2)\n"
            "  --resample-rows N       hierarchical: points kept per cluster and step (default 10)\n"
            "  --device cpu|cuda       where the assignment GEMM runs (default cpu)\n"
            "  --threads T             CPU threads per rank (default: OpenMP's)\n"
            "  --quiet                 no per-iteration log\n"
            "  writes CDIR/centroids.h5, CDIR/assign/<shard>.h5 (key, status, cluster, distance),\n"
            "  CDIR/level<L>.h5 for hierarchical levels; rerun the same command to resume\n");
}

/* Parse argv into o. WS_OK, 1 for --help, or WS_ERR_ARG with the message set. */
static int parse(int argc, char **argv, cluster_options *o) {
    *o = (cluster_options){.feature = "cls", .device = "cpu", .metric = KM_COSINE, .iters = 20,
                           .max_per_centroid = 256, .seed = 1234, .resample_steps = 2, .resample_rows = 10,
                           .verbose = 1};
    long long seed = 1234;
    const struct { const char *name; long long lo, hi; int *i; long long *ll; } nums[] = {
        {"--iters", 0, 100000, &o->iters, NULL},
        {"--max-per-centroid", 1, 1 << 20, &o->max_per_centroid, NULL},
        {"--resample-steps", 0, 100, &o->resample_steps, NULL},
        {"--resample-rows", 1, 1 << 20, &o->resample_rows, NULL},
        {"--threads", 1, 4096, &o->threads, NULL},
        {"--seed", 0, 1ll << 62, NULL, &seed},
    };
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v = NULL;
        if (!strcmp(f, "--help") || !strcmp(f, "-h")) return 1;
        if (!strcmp(f, "--quiet")) {
            o->verbose = 0;
            continue;
        }
        if (!(v = curate_flag_value(argc, argv, &i))) return WS_ERR_ARG;
        int rc = WS_OK, known = 1;
        long long n, ks[CLUSTER_MAX_LEVELS];
        if (!strcmp(f, "--input")) o->input = v;
        else if (!strcmp(f, "--output")) o->output = v;
        else if (!strcmp(f, "--feature")) o->feature = v;
        else if (!strcmp(f, "--device")) o->device = v;
        else if (!strcmp(f, "--init")) o->init = v;
        else if (!strcmp(f, "--metric")) {
            if (!strcmp(v, "cosine")) o->metric = KM_COSINE;
            else if (!strcmp(v, "l2")) o->metric = KM_L2;
            else rc = ws_errorf(WS_ERR_ARG, "--metric '%s': expected cosine or l2", v);
        } else if (!strcmp(f, "--k")) {
            rc = curate_flag_ints(f, v, 1, 1 << 24, ks, CLUSTER_MAX_LEVELS, &o->levels);
            for (int l = 0; rc == WS_OK && l < o->levels; l++) {
                o->k[l] = (int)ks[l];
                if (l && ks[l] >= ks[l - 1])
                    rc = ws_errorf(WS_ERR_ARG, "--k '%s': hierarchical levels go from fine to coarse (each K smaller "
                                   "than the one before)", v);
            }
        } else {
            known = 0;
            for (size_t j = 0; j < sizeof nums / sizeof nums[0] && !known; j++) {
                if (strcmp(f, nums[j].name)) continue;
                known = 1;
                if ((rc = curate_flag_int(f, v, nums[j].lo, nums[j].hi, &n)) == WS_OK) {
                    if (nums[j].i) *nums[j].i = (int)n;
                    else *nums[j].ll = n;
                }
            }
        }
        if (!known) rc = ws_errorf(WS_ERR_ARG, "unknown option '%s'", f);
        if (rc) return rc;
    }
    o->seed = (uint64_t)seed;
    if (!o->input || !o->output || !o->levels)
        return ws_errorf(WS_ERR_ARG, "--input, --k and --output are required");
    if (strcmp(o->feature, "cls") && strcmp(o->feature, "patch_mean"))
        return ws_errorf(WS_ERR_ARG, "--feature '%s': expected cls or patch_mean", o->feature);
    return WS_OK;
}

static int run(int argc, char **argv) {
    cluster_options o;
    int rc = parse(argc, argv, &o);
    if (rc == 1) {
        usage(stdout);
        return WS_EXIT_OK;
    }
    if (rc) {
        fprintf(stderr, "webssl-dist cluster: %s\n", ws_error_message());
        usage(stderr);
        return WS_EXIT_USAGE;
    }
    ws_topology t;
    if ((rc = topology_create(1, &t)) != WS_OK) {
        fprintf(stderr, "webssl-dist cluster: %s\n", ws_error_message());
        return WS_EXIT_USAGE;
    }
    ws_log_set_rank(t.world_rank, t.world_size);
    cluster_summary s;
    rc = cluster_run(&o, &t, &s);
    if (rc) {
        if (t.world_rank == 0) fprintf(stderr, "webssl-dist cluster: %s\n", ws_error_message());
    } else if (t.world_rank == 0) {
        printf("%s: %lld rows, k %d (%s), trained on %lld rows%s, objective %.6g, %d empty clusters refilled, "
               "train %.2f s\n", o.output, (long long)s.rows, o.k[0], o.metric == KM_COSINE ? "cosine" : "l2",
               (long long)s.train_rows, s.start_iter ? " (resumed)" : "", s.objective, s.splits, s.train_seconds);
        printf("assign: %lld shards written, %lld already complete, %lld rows assigned, %.2f s\n",
               (long long)s.written_shards, (long long)s.skipped_shards, (long long)s.assigned, s.assign_seconds);
    }
    topology_free(&t);
    return rc ? WS_EXIT_USAGE : WS_EXIT_OK;
}

int cmd_cluster(int argc, char **argv) {
    if (topology_mpi_init(&argc, &argv) != WS_OK) {
        fprintf(stderr, "webssl-dist cluster: %s\n", ws_error_message());
        return WS_EXIT_USAGE;
    }
    const int code = run(argc, argv);
    topology_mpi_finalize();
    return code;
}
