/* Verification of an output directory (see shard_verify.h). */
#define _GNU_SOURCE
#include "io/shard_verify.h"
#include "common/error.h"
#include "io/h5_writer.h"
#include "io/run_dir.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int is_shard(const struct dirent *e) {
    return run_dir_is_shard_file(e->d_name);
}

int shard_verify_dir(const char *dir, void (*report)(const char *msg, void *ctx), void *ctx, ws_verify_info *info) {
    memset(info, 0, sizeof *info);
    struct dirent **names = NULL;
    int n = scandir(dir, &names, is_shard, alphasort);
    if (n < 0) return ws_errorf(errno == ENOMEM ? WS_ERR_NOMEM : WS_ERR_IO, "%s: cannot list: %s", dir, strerror(errno));
    char path[4096];
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISREG(st.st_mode)) info->bytes += (double)st.st_size;
        int64_t rows = 0;
        info->files++;
        if (h5_shard_verify(path, &rows) == WS_OK) {
            info->rows += rows;
        } else {
            info->bad++;
            report(ws_error_message(), ctx);
        }
        free(names[i]);
    }
    free(names);
    return WS_OK;
}
