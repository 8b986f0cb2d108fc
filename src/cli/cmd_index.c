/* `webssl-dist index [--strict] DIR`: DIR/index.h5 presenting every complete shard file as one
 * table (virtual datasets; see io/h5_index.h); names every file left out and why, and every shard
 * of the run (DIR/shards.txt) that has no file. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "common/error.h"
#include "io/h5_index.h"

static const char *usage =
    "usage: webssl-dist index [--strict] DIR\n"
    "  writes DIR/index.h5: virtual datasets key, status, cls, patch_mean, patch, head over every complete\n"
    "  shard file, plus shard_name and shard_start. Files left out (incomplete, unreadable, temporary) and\n"
    "  shards of the run without a file are named on stderr.\n"
    "  --strict   exit with status 2 when any file is left out or any shard is missing\n";

int cmd_index(int argc, char **argv) {
    const char *dir = NULL;
    int strict = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage, stdout);
            return WS_EXIT_OK;
        }
        if (!strcmp(argv[i], "--strict")) strict = 1;
        else if (!dir && strncmp(argv[i], "--", 2)) dir = argv[i];
        else {
            fprintf(stderr, "webssl-dist index: unexpected argument '%s'\n%s", argv[i], usage);
            return WS_EXIT_USAGE;
        }
    }
    if (!dir) {
        fputs(usage, stderr);
        return WS_EXIT_USAGE;
    }
    ws_index_info info;
    int rc = h5_index_write(dir, &info);
    for (int64_t i = 0; i < info.skipped; i++)
        fprintf(stderr, "webssl-dist index: left out %s/%s: %s\n", dir, info.left_out[i].name, info.left_out[i].why);
    for (size_t i = 0; i < info.num_missing; i++)
        fprintf(stderr, "webssl-dist index: missing shard %s: listed in %s/shards.txt, no file %s.h5\n",
                info.missing[i], dir, info.missing[i]);
    int incomplete = info.skipped > 0 || info.num_missing > 0;
    if (rc != WS_OK) {
        fprintf(stderr, "webssl-dist index: %s\n", ws_error_message());
        h5_index_info_free(&info);
        return WS_EXIT_USAGE;
    }
    printf("%s/index.h5: %lld shards, %lld rows", dir, (long long)info.shards, (long long)info.rows);
    if (info.skipped) printf(", %lld files left out", (long long)info.skipped);
    if (info.num_missing) printf(", %zu shards missing", info.num_missing);
    printf("\n");
    h5_index_info_free(&info);
    return strict && incomplete ? WS_EXIT_FAILED_SHARDS : WS_EXIT_OK;
}
