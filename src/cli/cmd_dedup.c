/* `webssl-dist dedup`: its flag table, then the curate library (curate/dedup.h). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/curate_cli.h"
#include "cli/flags.h"
#include "common/error.h"
#include "curate/dedup.h"

typedef struct {
    dedup_options d;
    const char *eps;        /* "E[,E2,...]" */
    long long seed;
} dedup_cli;

#define O(f) offsetof(dedup_cli, f)
static const flag_choice keeps[] = {{"hard", KEEP_HARD}, {"easy", KEEP_EASY}, {"random", KEEP_RANDOM}, {NULL, 0}};
static const flag_choice devices[] = {{"cpu", 0}, {"cuda", 0}, {NULL, 0}};
static const flag_spec flags[] = {
    FLAG("--input", "DIR", FLAG_STRING, O(d.input), "embed output directory", .attrs = FLAG_REQUIRED),
    FLAG("--clusters", "CDIR", FLAG_STRING, O(d.clusters), "the output of webssl-dist cluster", .attrs = FLAG_REQUIRED),
    FLAG("--output", "DDIR", FLAG_STRING, O(d.output), "per-shard results and summary.json (created)",
         .attrs = FLAG_REQUIRED),
    FLAG("--eps", "E[,E2,...]", FLAG_STRING, O(eps), "duplicate when the cosine to an earlier row exceeds 1 - E;\n"
         "one keep column per E"),
    FLAG("--keep", NULL, FLAG_CHOICE, O(d.keep), "which copy survives: farthest from the centroid (hard),\n"
         "nearest (easy), or a seeded random order", .choices = keeps),
    FLAG("--seed", "S", FLAG_LONG, O(seed), "the order of --keep random"),
    FLAG("--block", "N", FLAG_INT, O(d.block), "rows per similarity block"),
    FLAG("--device", NULL, FLAG_WORD, O(d.device), "where the similarity GEMMs run", .choices = devices),
    FLAG("--threads", "T", FLAG_INT, O(d.threads), "CPU threads per rank [OpenMP default]"),
};
static const flag_table table = FLAG_TABLE("dedup",
    "SemDeDup within the clusters of `webssl-dist cluster` (docs/curation.md). Writes DDIR/<shard>.h5\n"
    "(key, status, cluster, max_similarity, duplicate_shard, duplicate_row, keep [N, eps]) and\n"
    "DDIR/summary.json.\n", flags);

static void print_summary(const dedup_options *o, const dedup_summary *s) {
    printf("%s: %lld rows, %lld assigned in %lld clusters (largest %lld), %.2f s\n", o->output, (long long)s->rows,
           (long long)s->assigned, (long long)s->clusters, (long long)s->largest, s->seconds);
    for (int e = 0; e < o->n_eps; e++)
        printf("  eps %-8g kept %lld, removed %lld (%.2f%% of the assigned rows kept)\n", o->eps[e],
               (long long)s->kept[e], (long long)(s->assigned - s->kept[e]),
               s->assigned ? 100.0 * (double)s->kept[e] / (double)s->assigned : 0.0);
}

static int parse(int argc, char **argv, int loud, void *opts) {
    dedup_cli *c = opts;
    int code = flags_parse_or_exit(&table, argc, argv, c, sizeof *c, loud);
    if (code >= 0) return code;
    c->d.seed = (uint64_t)c->seed;
    if (curate_flag_doubles("--eps", c->eps, 0.0, 2.0, c->d.eps, DEDUP_MAX_EPS, &c->d.n_eps) == WS_OK) return -1;
    if (loud) fprintf(stderr, "webssl-dist dedup: %s\n", ws_error_message());
    return WS_EXIT_USAGE;
}

static int run(const void *opts, const ws_topology *t) {
    const dedup_options *o = &((const dedup_cli *)opts)->d;
    dedup_summary s;
    int rc = dedup_run(o, t, &s);
    if (rc == WS_OK && t->world_rank == 0) print_summary(o, &s);
    return rc;
}

int cmd_dedup(int argc, char **argv) {
    dedup_cli c = {.d = {.device = "cpu", .keep = KEEP_HARD, .block = 2048}, .eps = "0.01", .seed = 1234};
    const curate_command cmd = {"dedup", parse, run};
    return curate_command_main(&cmd, argc, argv, &c);
}
