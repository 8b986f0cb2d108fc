/* `webssl-dist sample`: flags to sample_options, then the curate library (curate/sample.h). */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/curate_flags.h"
#include "common/error.h"
#include "curate/sample.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: webssl-dist sample --clusters CDIR --target N --output FILE.h5 [options]\n"
            "  hierarchical balanced sampling from the cluster tree of `webssl-dist cluster` (one or\n"
            "  more levels): N rows spread as evenly as the clusters allow, level by level\n"
            "  --strategy random|closest   rows of a level-1 cluster drawn at random (default) or\n"
            "                              nearest to its centroid first\n"
            "  --seed S                    (default 1234)\n"
            "  writes FILE.h5 (key, shard, row, cluster) and FILE.txt (the keys, one a line)\n");
}

static int parse(int argc, char **argv, sample_options *o) {
    *o = (sample_options){.seed = 1234, .target = -1};
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v;
        if (!strcmp(f, "--help") || !strcmp(f, "-h")) return 1;
        if (!(v = curate_flag_value(argc, argv, &i))) return WS_ERR_ARG;
        long long n;
        int rc = WS_OK;
        if (!strcmp(f, "--clusters")) o->clusters = v;
        else if (!strcmp(f, "--output")) o->output = v;
        else if (!strcmp(f, "--target")) {
            if (!(rc = curate_flag_int(f, v, 1, 1ll << 50, &n))) o->target = n;
        } else if (!strcmp(f, "--seed")) {
            if (!(rc = curate_flag_int(f, v, 0, 1ll << 62, &n))) o->seed = (uint64_t)n;
        } else if (!strcmp(f, "--strategy")) {
            if (!strcmp(v, "random")) o->closest = 0;
            else if (!strcmp(v, "closest")) o->closest = 1;
            else rc = ws_errorf(WS_ERR_ARG, "--strategy '%s': expected random or closest", v);
        } else {
            rc = ws_errorf(WS_ERR_ARG, "unknown option '%s'", f);
        }
        if (rc) return rc;
    }
    if (!o->clusters || !o->output || o->target < 0)
        return ws_errorf(WS_ERR_ARG, "--clusters, --target and --output are required");
    return WS_OK;
}

int cmd_sample(int argc, char **argv) {
    sample_options o;
    int rc = parse(argc, argv, &o);
    if (rc == 1) {
        usage(stdout);
        return WS_EXIT_OK;
    }
    if (rc) {
        fprintf(stderr, "webssl-dist sample: %s\n", ws_error_message());
        usage(stderr);
        return WS_EXIT_USAGE;
    }
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
