/* `webssl-dist index [--strict] DIR`: DIR/index.h5 presenting every complete shard file as one
 * table (virtual datasets; see io/h5_index.h); names every file left out and why, and every shard
 * of the run (DIR/shards.txt) that has no file. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/flags.h"
#include "common/error.h"
#include "io/h5_index.h"

typedef struct {
    const char *dir;
    int strict;
} index_options;

static const flag_spec flags[] = {
    FLAG("DIR", NULL, FLAG_STRING, offsetof(index_options, dir), "an embed --output directory", .attrs = FLAG_REQUIRED),
    FLAG("--strict", NULL, FLAG_SWITCH, offsetof(index_options, strict),
     "exit with status 2 when a file is left out or a shard of the run is missing"),
};

static const flag_table table = FLAG_TABLE("index",
    "Writes DIR/index.h5: virtual datasets key, status and each feature dataset the shards hold\n"
    "(cls, patch_mean, patch, head, proto_index, proto_score) over every complete shard file, plus\n"
    "shard_name and shard_start; built in parts of 256 shards (DIR/index.parts/, mapped by\n"
    "part_name and part_start). Rows it cannot read come back as status -1 and NaN, never zeros.\n"
    "Files left out (damaged, incomplete, temporary, not shard files) and shards of the run\n"
    "without a file (DIR/shards.txt) are named on stderr.\n", flags);

int cmd_index(int argc, char **argv) {
    index_options o = {NULL, 0};
    int code = flags_parse_or_exit(&table, argc, argv, &o, sizeof o, 1);
    if (code >= 0) return code;
    ws_index_info info;
    int rc = h5_index_write(o.dir, &info);
    for (int64_t i = 0; i < info.skipped; i++)
        fprintf(stderr, "webssl-dist index: left out %s/%s: %s\n", o.dir, info.left_out[i].name, info.left_out[i].why);
    for (size_t i = 0; i < info.num_missing; i++)
        fprintf(stderr, "webssl-dist index: missing shard %s: listed in %s/shards.txt, no file %s.h5\n",
                info.missing[i], o.dir, info.missing[i]);
    const int incomplete = info.skipped > 0 || info.num_missing > 0;
    if (rc != WS_OK) {
        fprintf(stderr, "webssl-dist index: %s\n", ws_error_message());
        h5_index_info_free(&info);
        return WS_EXIT_USAGE;
    }
    printf("%s/index.h5: %lld shards, %lld rows", o.dir, (long long)info.shards, (long long)info.rows);
    if (info.skipped) printf(", %lld files left out", (long long)info.skipped);
    if (info.num_missing) printf(", %zu shards missing", info.num_missing);
    printf("\n");
    h5_index_info_free(&info);
    return o.strict && incomplete ? WS_EXIT_FAILED_SHARDS : WS_EXIT_OK;
}
