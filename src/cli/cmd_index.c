/* `webssl-dist index DIR`: DIR/index.h5 presenting every complete shard file as one table
 * (virtual datasets; see io/h5_index.h). */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "common/error.h"
#include "io/h5_index.h"

int cmd_index(int argc, char **argv) {
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: webssl-dist index DIR\n  writes DIR/index.h5: virtual datasets key, status, cls, "
               "patch_mean, patch, head over every complete shard file, plus shard_name and shard_start\n");
        return WS_EXIT_OK;
    }
    if (argc != 2) {
        fprintf(stderr, "usage: webssl-dist index DIR\n");
        return WS_EXIT_USAGE;
    }
    ws_index_info info;
    if (h5_index_write(argv[1], &info) != WS_OK) {
        fprintf(stderr, "webssl-dist index: %s\n", ws_error_message());
        return WS_EXIT_USAGE;
    }
    printf("%s/index.h5: %lld shards, %lld rows", argv[1], (long long)info.shards, (long long)info.rows);
    if (info.skipped) printf(" (%lld damaged or incomplete files left out, named above)", (long long)info.skipped);
    printf("\n");
    return WS_EXIT_OK;
}
