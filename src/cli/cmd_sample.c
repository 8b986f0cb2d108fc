/* `webssl-dist sample`: its flag table, then the curate library (curate/sample.h). */
#include <stddef.h>
#include <stdio.h>

#include "cli/commands.h"
#include "cli/flags.h"
#include "common/error.h"
#include "curate/sample.h"

typedef struct {
    const char *clusters, *output;
    long long target, seed;
    int closest;
} sample_cli;

#define O(f) offsetof(sample_cli, f)
static const flag_choice strategies[] = {{"random", 0}, {"closest", 1}, {NULL, 0}};
static const flag_spec flags[] = {
    FLAG("--clusters", "CDIR", FLAG_STRING, O(clusters), "the output of webssl-dist cluster", .attrs = FLAG_REQUIRED),
    FLAG("--target", "N", FLAG_LONG, O(target), "rows to select", .attrs = FLAG_REQUIRED),
    FLAG("--output", "FILE.h5", FLAG_STRING, O(output), "selected rows (key, shard, row, cluster); the keys also\n"
         "in FILE.txt, one a line", .attrs = FLAG_REQUIRED),
    FLAG("--strategy", NULL, FLAG_CHOICE, O(closest), "rows of a level-1 cluster: at random, or nearest to its\n"
         "centroid first", .choices = strategies),
    FLAG("--seed", "S", FLAG_LONG, O(seed), "the split's left-over rows and the random draws"),
};
static const flag_table table = FLAG_TABLE("sample",
    "Hierarchical balanced sampling from the cluster tree (docs/curation.md): N rows spread as\n"
    "evenly as the clusters allow, level by level.\n", flags);

int cmd_sample(int argc, char **argv) {
    sample_cli c = {.seed = 1234};
    int code = flags_parse_or_exit(&table, argc, argv, &c, sizeof c, 1);
    if (code >= 0) return code;
    const sample_options o = {.clusters = c.clusters, .output = c.output, .target = c.target,
                              .closest = c.closest, .seed = (uint64_t)c.seed};
    sample_summary s;
    if (sample_run(&o, &s) != WS_OK) {
        fprintf(stderr, "webssl-dist sample: %s\n", ws_error_message());
        return WS_EXIT_USAGE;
    }
    printf("%s: %lld rows selected of %lld assigned (%lld in all), %d level%s, %d top-level clusters%s\n", o.output,
           (long long)s.selected, (long long)s.assigned, (long long)s.rows, s.levels, s.levels > 1 ? "s" : "",
           s.top_clusters, s.selected < o.target ? " (fewer rows than the target: all taken)" : "");
    return WS_EXIT_OK;
}
