/* `webssl-dist dedup`: flags to dedup_options, then the curate library (curate/dedup.h). */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/curate_flags.h"
#include "common/error.h"
#include "common/log.h"
#include "curate/dedup.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: webssl-dist dedup --input DIR --clusters CDIR --output DDIR [options]\n"
            "  SemDeDup within the clusters of `webssl-dist cluster` (CDIR): a row is a duplicate when its\n"
            "  cosine similarity to an earlier row of its cluster exceeds 1 - eps\n"
            "  --eps E[,E2,...]        thresholds, one keep column each (default 0.01)\n"
            "  --keep hard|easy|random which copy survives: farthest from the centroid (hard, default),\n"
            "                          nearest (easy), or a seeded random order\n"
            "  --seed S                for --keep random (default 1234)\n"
            "  --block N               rows per similarity block (default 2048)\n"
            "  --device cpu|cuda       where the similarity GEMMs run (default cpu)\n"
            "  --threads T             CPU threads per rank\n"
            "  writes DDIR/<shard>.h5 (key, status, cluster, max_similarity, duplicate_shard,\n"
            "  duplicate_row, keep [N, eps]) and DDIR/summary.json\n");
}

static int parse(int argc, char **argv, dedup_options *o) {
    *o = (dedup_options){.device = "cpu", .eps = {0.01}, .n_eps = 1, .keep = KEEP_HARD, .seed = 1234};
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v;
        if (!strcmp(f, "--help") || !strcmp(f, "-h")) return 1;
        if (!(v = curate_flag_value(argc, argv, &i))) return WS_ERR_ARG;
        long long n;
        int rc = WS_OK;
        if (!strcmp(f, "--input")) o->input = v;
        else if (!strcmp(f, "--clusters")) o->clusters = v;
        else if (!strcmp(f, "--output")) o->output = v;
        else if (!strcmp(f, "--device")) o->device = v;
        else if (!strcmp(f, "--eps")) rc = curate_flag_doubles(f, v, 0.0, 2.0, o->eps, DEDUP_MAX_EPS, &o->n_eps);
        else if (!strcmp(f, "--keep")) {
            if (!strcmp(v, "hard")) o->keep = KEEP_HARD;
            else if (!strcmp(v, "easy")) o->keep = KEEP_EASY;
            else if (!strcmp(v, "random")) o->keep = KEEP_RANDOM;
            else rc = ws_errorf(WS_ERR_ARG, "--keep '%s': expected hard, easy or random", v);
        } else if (!strcmp(f, "--seed")) {
            if (!(rc = curate_flag_int(f, v, 0, 1ll << 62, &n))) o->seed = (uint64_t)n;
        } else if (!strcmp(f, "--block")) {
            if (!(rc = curate_flag_int(f, v, 16, 1 << 15, &n))) o->block = (int)n;
        } else if (!strcmp(f, "--threads")) {
            if (!(rc = curate_flag_int(f, v, 1, 4096, &n))) o->threads = (int)n;
        } else {
            rc = ws_errorf(WS_ERR_ARG, "unknown option '%s'", f);
        }
        if (rc) return rc;
    }
    if (!o->input || !o->clusters || !o->output)
        return ws_errorf(WS_ERR_ARG, "--input, --clusters and --output are required");
    return WS_OK;
}

static int run(int argc, char **argv) {
    dedup_options o;
    int rc = parse(argc, argv, &o);
    if (rc == 1) {
        usage(stdout);
        return WS_EXIT_OK;
    }
    if (rc) {
        fprintf(stderr, "webssl-dist dedup: %s\n", ws_error_message());
        usage(stderr);
        return WS_EXIT_USAGE;
    }
    ws_topology t;
    if (topology_create(1, &t) != WS_OK) {
        fprintf(stderr, "webssl-dist dedup: %s\n", ws_error_message());
        return WS_EXIT_USAGE;
    }
    ws_log_set_rank(t.world_rank, t.world_size);
    dedup_summary s;
    rc = dedup_run(&o, &t, &s);
    if (rc && t.world_rank == 0) fprintf(stderr, "webssl-dist dedup: %s\n", ws_error_message());
    if (!rc && t.world_rank == 0) {
        printf("%s: %lld rows, %lld assigned in %lld clusters (largest %lld), %.2f s\n", o.output, (long long)s.rows,
               (long long)s.assigned, (long long)s.clusters, (long long)s.largest, s.seconds);
        for (int e = 0; e < o.n_eps; e++)
            printf("  eps %-8g kept %lld, removed %lld (%.2f%% of the assigned rows kept)\n", o.eps[e],
                   (long long)s.kept[e], (long long)(s.assigned - s.kept[e]),
                   s.assigned ? 100.0 * (double)s.kept[e] / (double)s.assigned : 0.0);
    }
    topology_free(&t);
    return rc ? WS_EXIT_USAGE : WS_EXIT_OK;
}

int cmd_dedup(int argc, char **argv) {
    if (topology_mpi_init(&argc, &argv) != WS_OK) {
        fprintf(stderr, "webssl-dist dedup: %s\n", ws_error_message());
        return WS_EXIT_USAGE;
    }
    const int code = run(argc, argv);
    topology_mpi_finalize();
    return code;
}
