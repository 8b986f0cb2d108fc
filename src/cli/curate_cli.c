/* The curation commands' lists and MPI frame (see curate_cli.h). */
#include "cli/curate_cli.h"
#include "cli/commands.h"
#include "common/error.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int curate_flag_ints(const char *flag, const char *value, long long lo, long long hi, long long *out, int max, int *n) {
    *n = 0;
    const char *p = value;
    for (;;) {
        char *end;
        errno = 0;
        const long long v = strtoll(p, &end, 10);
        if (end == p || errno || v < lo || v > hi || (*end && *end != ','))
            return ws_errorf(WS_ERR_ARG, "%s '%s': expected integers in [%lld, %lld], comma separated", flag, value,
                             lo, hi);
        if (*n == max) return ws_errorf(WS_ERR_ARG, "%s '%s': at most %d values", flag, value, max);
        out[(*n)++] = v;
        if (!*end) return WS_OK;
        p = end + 1;
    }
}

int curate_flag_doubles(const char *flag, const char *value, double lo, double hi, double *out, int max, int *n) {
    *n = 0;
    const char *p = value;
    for (;;) {
        char *end;
        errno = 0;
        const double v = strtod(p, &end);
        if (end == p || errno || !isfinite(v) || v <= lo || v >= hi || (*end && *end != ','))
            return ws_errorf(WS_ERR_ARG, "%s '%s': expected numbers in (%g, %g), comma separated", flag, value, lo, hi);
        if (*n == max) return ws_errorf(WS_ERR_ARG, "%s '%s': at most %d values", flag, value, max);
        out[(*n)++] = v;
        if (!*end) return WS_OK;
        p = end + 1;
    }
}

int curate_command_main(const curate_command *c, int argc, char **argv, void *opts) {
    if (topology_mpi_init(&argc, &argv) != WS_OK) {
        fprintf(stderr, "webssl-dist %s: %s\n", c->name, ws_error_message());
        return WS_EXIT_USAGE;
    }
    int world_rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    int code = c->parse(argc, argv, world_rank == 0, opts);
    if (code < 0) {
        ws_topology t;
        int rc = topology_create(1, &t);
        if (rc == WS_OK) {
            ws_log_set_rank(t.world_rank, t.world_size);
            rc = c->run(opts, &t);
            topology_free(&t);
        }
        if (rc && world_rank == 0) fprintf(stderr, "webssl-dist %s: %s\n", c->name, ws_error_message());
        code = rc ? WS_EXIT_USAGE : WS_EXIT_OK;
    }
    topology_mpi_finalize();
    return code;
}
