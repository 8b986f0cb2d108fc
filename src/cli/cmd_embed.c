/* `webssl-dist embed`: parses the flags, hands them to the embed engine (driver/embed.h) and
 * turns its outcome into the exit status: WS_EXIT_OK, WS_EXIT_USAGE (bad flag or setup error,
 * printed once by world rank 0), WS_EXIT_FAILED_SHARDS, WS_EXIT_INTERRUPTED. */
#include "cli/commands.h"
#include "comm/launch_env.h"
#include "comm/topology.h"
#include "common/error.h"
#include "common/log.h"
#include "driver/embed.h"

#include <mpi.h>
#include <stdio.h>

int cmd_embed(int argc, char **argv) {
    if (launch_env_check_pre_mpi() != WS_OK || topology_mpi_init(&argc, &argv) != WS_OK) {
        fprintf(stderr, "webssl-dist embed: %s\n", ws_error_message());
        return WS_EXIT_USAGE;
    }
    int world_rank = 0, code = WS_EXIT_USAGE;
    MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    embed_options opt;
    int rc = embed_options_parse(argc, argv, &opt);
    if (rc == WS_OK && opt.help) {
        if (world_rank == 0) embed_options_usage(stdout);
        code = WS_EXIT_OK;
    } else {
        if (rc == WS_OK) rc = embed_main(&opt);
        if (rc < 0 && world_rank == 0) LOG_ERROR("embed: %s", ws_error_message());
        code = rc == EMBED_DONE            ? WS_EXIT_OK
               : rc == EMBED_FAILED_SHARDS ? WS_EXIT_FAILED_SHARDS
               : rc == EMBED_INTERRUPTED   ? WS_EXIT_INTERRUPTED
                                           : WS_EXIT_USAGE;
    }
    topology_mpi_finalize();
    return code;
}
