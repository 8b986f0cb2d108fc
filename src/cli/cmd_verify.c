/* `webssl-dist verify DIR`: checks every byte of every shard file of DIR (io/shard_verify.h) and
 * names each bad one. Exit WS_EXIT_OK when every file is sound, WS_EXIT_FAILED_SHARDS when any is
 * not, WS_EXIT_USAGE for bad arguments or a DIR without shard files or that cannot be listed. */
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "cli/commands.h"
#include "cli/flags.h"
#include "common/error.h"
#include "io/shard_verify.h"

typedef struct {
    const char *dir;
} verify_options;

static const flag_spec flags[] = {
    FLAG("DIR", NULL, FLAG_STRING, offsetof(verify_options, dir), "an embed --output directory", .attrs = FLAG_REQUIRED),
};

static const flag_table table = FLAG_TABLE("verify",
    "Checks every shard file DIR/*.h5 (index.h5 aside) byte for byte against the checksum stored\n"
    "in it, and that it opens as a complete shard; names each bad file (damaged, truncated, no\n"
    "checksum, a symbolic link, in use by another process).\n"
    "exit status: 0 every file sound, 1 usage error or no shard file, 2 some files bad\n", flags);

static void print_bad(const char *msg, void *ctx) {
    (void)ctx;
    fprintf(stderr, "webssl-dist verify: bad: %s\n", msg);
}

int cmd_verify(int argc, char **argv) {
    verify_options o = {NULL};
    int code = flags_parse_or_exit(&table, argc, argv, &o, sizeof o, 1);
    if (code >= 0) return code;
    const char *dir = o.dir;
    ws_verify_info info;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (shard_verify_dir(dir, print_bad, NULL, &info) != WS_OK) {
        fprintf(stderr, "webssl-dist verify: %s\n", ws_error_message());
        return WS_EXIT_USAGE;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (info.files == 0) {
        fprintf(stderr, "webssl-dist verify: %s holds no shard file (*.h5)\n", dir);
        return WS_EXIT_USAGE;
    }
    printf("%s: %lld shard files checked (%.1f MiB in %.1f s), %lld rows in the sound ones; %lld bad\n", dir,
           (long long)info.files, info.bytes / 1048576.0,
           (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec), (long long)info.rows,
           (long long)info.bad);
    return info.bad ? WS_EXIT_FAILED_SHARDS : WS_EXIT_OK;
}
