/* `webssl-dist export DIR --output FILE.h5 [--range a:b] [--datasets LIST]`: one consolidated,
 * chunked, compressed HDF5 file from the shard files of DIR (io/h5_export.h), refused when a
 * shard it reads fails verification (each bad one named). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/flags.h"
#include "common/error.h"
#include "io/h5_export.h"

typedef struct {
    ws_export_options e;
    const char *range;
} export_cli;

#define O(field) offsetof(export_cli, field)

static const flag_spec flags[] = {
    FLAG("DIR", NULL, FLAG_STRING, O(e.dir), "an embed --output directory", .attrs = FLAG_REQUIRED),
    FLAG("--output", "FILE.h5", FLAG_STRING, O(e.output), "the file, written under FILE.h5.tmp.<pid> first",
     .attrs = FLAG_REQUIRED | FLAG_ONCE),
    FLAG("--range", "a:b", FLAG_STRING, O(range), "rows a to b-1 in index order (a: or :b open) [every row]"),
    FLAG("--datasets", "LIST", FLAG_STRING, O(e.datasets),
     "feature datasets among cls,patch_mean,patch,head,proto_index,proto_score\n"
     "(proto: both); key and status always [every one the shards hold]"),
    FLAG("--level", "L", FLAG_INT, O(e.level), "deflate level, 0 for none"),
    FLAG("--overwrite", NULL, FLAG_SWITCH, O(e.overwrite), "replace an existing FILE.h5"),
};

static const flag_table table = FLAG_TABLE("export",
    "Writes one HDF5 file of the rows of DIR's shard files in index order (shard name order):\n"
    "key, status and the feature datasets, chunked and compressed (shuffle + deflate), with\n"
    "shard_name, shard_start and shard_offset mapping rows back to shards, and the run's\n"
    "attributes. Every shard whose rows are exported is verified byte for byte first (as\n"
    "`verify`); when one fails, each bad file is named and nothing is written. One shard file is\n"
    "open at a time. Several --range runs give per-range files.\n"
    "exit status: 0 written, 1 usage error, 2 some shard files bad (nothing written)\n", flags);

/* "a:b", "a:", ":b" into first/last (last -1: to the end). */
static int parse_range(const char *s, ws_export_options *e) {
    const char *colon = s ? strchr(s, ':') : NULL;
    if (!s) return WS_OK;
    if (!colon) return ws_errorf(WS_ERR_ARG, "--range '%s': expected a:b (rows a to b-1)", s);
    char a[64];
    long long v;
    snprintf(a, sizeof a, "%.*s", (int)(colon - s), s);
    if (*a && flag_long("--range", a, &v) != WS_OK) return WS_ERR_ARG;
    e->first = *a ? v : 0;
    if (colon[1] && flag_long("--range", colon + 1, &v) != WS_OK) return WS_ERR_ARG;
    e->last = colon[1] ? v : -1;
    return WS_OK;
}

static void print_bad(const char *msg, void *ctx) {
    (void)ctx;
    fprintf(stderr, "webssl-dist export: bad: %s\n", msg);
}

int cmd_export(int argc, char **argv) {
    export_cli o = {.e = {.last = -1, .level = 4}};
    int code = flags_parse_or_exit(&table, argc, argv, &o, sizeof o, 1);
    if (code >= 0) return code;
    if (parse_range(o.range, &o.e) != WS_OK) {
        fprintf(stderr, "webssl-dist export: %s\n", ws_error_message());
        return WS_EXIT_USAGE;
    }
    ws_export_info info;
    int rc = h5_export(&o.e, print_bad, NULL, &info);
    if (rc != WS_OK) {
        fprintf(stderr, "webssl-dist export: %s\n", ws_error_message());
        return rc == WS_ERR_FORMAT ? WS_EXIT_FAILED_SHARDS : WS_EXIT_USAGE;
    }
    printf("%s: %lld rows from %lld shard files of %s\n", o.e.output, (long long)info.rows, (long long)info.shards,
           o.e.dir);
    return WS_EXIT_OK;
}
