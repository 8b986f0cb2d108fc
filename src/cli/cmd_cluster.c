/* `webssl-dist cluster`: its flag table, then the curate library (curate/cluster.h). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/curate_cli.h"
#include "cli/flags.h"
#include "common/error.h"
#include "curate/cluster.h"

typedef struct {
    cluster_options c;
    const char *k;          /* "K[,K2,...]" */
    long long seed;
    int quiet;
} cluster_cli;

#define O(f) offsetof(cluster_cli, f)
static const flag_choice metrics[] = {{"cosine", KM_COSINE}, {"l2", KM_L2}, {NULL, 0}};
static const flag_choice features[] = {{"cls", 0}, {"patch_mean", 0}, {NULL, 0}};
static const flag_choice resample_from[] = {{"closest", 0}, {"random", 1}, {NULL, 0}};
static const flag_choice devices[] = {{"cpu", 0}, {"cuda", 0}, {NULL, 0}};
static const flag_spec flags[] = {
    FLAG("--input", "DIR", FLAG_STRING, O(c.input), "embed output directory (its shard files)", .attrs = FLAG_REQUIRED),
    FLAG("--k", "K[,K2,...]", FLAG_STRING, O(k), "clusters; several: hierarchical levels, fine to coarse",
         .attrs = FLAG_REQUIRED),
    FLAG("--output", "CDIR", FLAG_STRING, O(c.output), "centroids, assignments, levels (created)",
         .attrs = FLAG_REQUIRED),
    FLAG("--metric", NULL, FLAG_CHOICE, O(c.metric), "cosine: spherical k-means on unit rows", .choices = metrics),
    FLAG("--feature", NULL, FLAG_WORD, O(c.feature), "the embedding dataset", .choices = features),
    FLAG("--iters", "N", FLAG_INT, O(c.iters), "k-means iterations"),
    FLAG("--max-per-centroid", "N", FLAG_INT, O(c.max_per_centroid), "training rows per centroid"),
    FLAG("--seed", "S", FLAG_LONG, O(seed), "training rows, initial centroids, splits"),
    FLAG("--init", "FILE.h5", FLAG_STRING, O(c.init), "start from its dataset centroids (k x D) [k rows drawn]"),
    FLAG("--resample-steps", "N", FLAG_INT, O(c.resample_steps), "hierarchical: resampling steps per level"),
    FLAG("--resample-rows", "R|auto", FLAG_INT_AUTO, O(c.resample_rows), "hierarchical: points per cluster per step\n"
         "[auto: half the mean cluster size of the level]"),
    FLAG("--resample-from", NULL, FLAG_CHOICE, O(c.resample_random), "hierarchical: the points of a cluster a step\n"
         "takes: nearest its centroid, or at random", .choices = resample_from),
    FLAG("--level-iters", "N", FLAG_INT, O(c.level_iters), "hierarchical: Lloyd steps of each k-means at levels >= 2"),
    FLAG("--device", NULL, FLAG_WORD, O(c.device), "where the assignment GEMMs run", .choices = devices),
    FLAG("--threads", "T", FLAG_INT, O(c.threads), "CPU threads per rank [OpenMP default]"),
    FLAG("--quiet", NULL, FLAG_SWITCH, O(quiet), "no per-iteration log"),
};
static const flag_table table = FLAG_TABLE("cluster",
    "k-means over the embedding shards (docs/curation.md). Writes CDIR/centroids.h5,\n"
    "CDIR/assign/<shard>.h5 (key, status, cluster, distance) and CDIR/level<L>.h5 for hierarchical\n"
    "levels; rerun the same command to resume.\n", flags);

/* --k into o->k[] and o->levels: each level smaller than the one before. */
static int parse_levels(const char *v, cluster_options *o) {
    long long ks[CLUSTER_MAX_LEVELS];
    int rc = curate_flag_ints("--k", v, 1, 1 << 24, ks, CLUSTER_MAX_LEVELS, &o->levels);
    for (int l = 0; rc == WS_OK && l < o->levels; l++) {
        o->k[l] = (int)ks[l];
        if (l && ks[l] >= ks[l - 1])
            rc = ws_errorf(WS_ERR_ARG, "--k '%s': hierarchical levels go from fine to coarse (each K smaller than "
                           "the one before)", v);
    }
    return rc;
}

static void print_summary(const cluster_options *o, const cluster_summary *s) {
    printf("%s: %lld rows, k %d (%s), trained on %lld rows%s, objective %.6g, %d empty clusters refilled, "
           "train %.2f s\n", o->output, (long long)s->rows, o->k[0], o->metric == KM_COSINE ? "cosine" : "l2",
           (long long)s->train_rows, s->start_iter ? " (resumed)" : "", s->objective, s->splits, s->train_seconds);
    printf("assign: %lld shards written, %lld already complete, %lld rows assigned, %.2f s\n",
           (long long)s->written_shards, (long long)s->skipped_shards, (long long)s->assigned, s->assign_seconds);
}

static int parse(int argc, char **argv, int loud, void *opts) {
    cluster_cli *c = opts;
    int code = flags_parse_or_exit(&table, argc, argv, c, sizeof *c, loud);
    if (code >= 0) return code;
    c->c.seed = (uint64_t)c->seed;
    c->c.verbose = !c->quiet;
    if (parse_levels(c->k, &c->c) == WS_OK) return -1;
    if (loud) fprintf(stderr, "webssl-dist cluster: %s\n", ws_error_message());
    return WS_EXIT_USAGE;
}

static int run(const void *opts, const ws_topology *t) {
    const cluster_options *o = &((const cluster_cli *)opts)->c;
    cluster_summary s;
    int rc = cluster_run(o, t, &s);
    if (rc == WS_OK && t->world_rank == 0) print_summary(o, &s);
    return rc;
}

int cmd_cluster(int argc, char **argv) {
    cluster_cli c = {.c = {.feature = "cls", .device = "cpu", .metric = KM_COSINE, .iters = 20,
                           .max_per_centroid = 256, .resample_steps = 10, .resample_rows = 0,
                           .level_iters = 50},
                     .seed = 1234};
    const curate_command cmd = {"cluster", parse, run};
    return curate_command_main(&cmd, argc, argv, &c);
}
