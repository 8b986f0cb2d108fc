/* `webssl-dist index DIR`: DIR/index.h5 presenting every complete shard file as one table
 * (virtual datasets; see io/h5_index.h). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/flags.h"
#include "common/error.h"
#include "io/h5_index.h"

typedef struct {
    const char *dir;
} index_options;

static const flag_spec flags[] = {
    FLAG("DIR", NULL, FLAG_STRING, offsetof(index_options, dir), "an embed --output directory", .attrs = FLAG_REQUIRED),
};

static const flag_table table = FLAG_TABLE("index",
    "Writes DIR/index.h5: virtual datasets key, status, cls, patch_mean, patch, head over every\n"
    "complete shard file, plus shard_name and shard_start.\n", flags);

int cmd_index(int argc, char **argv) {
    index_options o = {NULL};
    int code = flags_parse_or_exit(&table, argc, argv, &o, sizeof o, 1);
    if (code >= 0) return code;
    ws_index_info info;
    if (h5_index_write(o.dir, &info) != WS_OK) {
        fprintf(stderr, "webssl-dist index: %s\n", ws_error_message());
        return WS_EXIT_USAGE;
    }
    printf("%s/index.h5: %lld shards, %lld rows", o.dir, (long long)info.shards, (long long)info.rows);
    if (info.skipped) printf(" (%lld damaged or incomplete files left out, named above)", (long long)info.skipped);
    printf("\n");
    return WS_EXIT_OK;
}
