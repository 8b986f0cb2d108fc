/* The integer flags' bounds and parser (see flags.h). */
#include "cli/flags.h"
#include "common/check.h"
#include "common/error.h"
#include "data/pipeline.h"
#include "driver/embed_options.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    long long lo, hi;
} flags[] = {
    {"--tp", 1, 4096},
    {"--batch", 1, 65536},
    {"--threads", 0, 4096},             /* 0: the OpenMP default */
    {"--decode-threads", 1, 1024},
    {"--resize", 1, PIPELINE_MAX_RESIZE},
    {"--resolution", 1, PIPELINE_MAX_RESOLUTION},
    {"--shard-size", 1, INT_MAX},
    {"--max-pixels", 0, 1LL << 40},     /* 0: the command's default (embed) / no limit (preprocess) */
    {"--iters", 1, INT_MAX},
    {"--warmup", 0, INT_MAX},
    {"--world", 1, 1 << 20},
    {"--read-ahead", 1, WS_MAX_READ_AHEAD},
    {"--retries", 0, 100},
};

int flag_long(const char *flag, const char *value, long long *out) {
    size_t i = 0, n = sizeof flags / sizeof flags[0];
    while (i < n && strcmp(flags[i].name, flag) != 0) i++;
    WS_ASSERT(i < n);   /* every integer flag has its bounds in the table */
    char *end = NULL;
    errno = 0;
    long long x = value ? strtoll(value, &end, 10) : 0;
    if (!value || errno || end == value || *end || x < flags[i].lo || x > flags[i].hi)
        return ws_errorf(WS_ERR_ARG, "%s '%s': expected an integer in [%lld, %lld]", flag, value ? value : "",
                         flags[i].lo, flags[i].hi);
    *out = x;
    return WS_OK;
}

int flag_int(const char *flag, const char *value, int *out) {
    long long x = 0;
    int rc = flag_long(flag, value, &x);
    if (rc == WS_OK) {
        WS_ASSERT(x >= INT_MIN && x <= INT_MAX);   /* the table's bounds of an int flag fit an int */
        *out = (int)x;
    }
    return rc;
}

int flag_allreduce(const char *value, ws_dtype *out) {
    if (ws_dtype_parse(value, out) != WS_OK || *out == WS_DTYPE_F16)
        return ws_errorf(WS_ERR_ARG, "--allreduce '%s': expected f32 or bf16", value);
    return WS_OK;
}

int flag_seconds(const char *flag, const char *value, double lo, double *out) {
    char *end = NULL;
    errno = 0;
    double x = value ? strtod(value, &end) : 0;
    if (!value || errno || end == value || *end || !(x >= lo && x <= 86400))
        return ws_errorf(WS_ERR_ARG, "%s '%s': expected seconds in [%g, 86400]", flag, value ? value : "", lo);
    *out = x;
    return WS_OK;
}

int flag_bytes(const char *flag, const char *value, uint64_t *out) {
    char *end = NULL;
    errno = 0;
    unsigned long long x = value ? strtoull(value, &end, 10) : 0;
    int shift = !value ? -1 : !*end ? 0 : !strcmp(end, "k") ? 10 : !strcmp(end, "M") ? 20
              : !strcmp(end, "G") ? 30 : !strcmp(end, "T") ? 40 : -1;
    if (!value || errno || end == value || value[0] == '-' || shift < 0 || x == 0 || x > (UINT64_MAX >> shift))
        return ws_errorf(WS_ERR_ARG, "%s '%s': expected a positive byte count, optionally with k, M, G or T",
                         flag, value ? value : "");
    *out = (uint64_t)x << shift;
    return WS_OK;
}

int flag_decode(const char *value, int *fast) {
    if (strcmp(value, "exact") && strcmp(value, "fast"))
        return ws_errorf(WS_ERR_ARG, "--decode '%s': expected exact or fast", value);
    *fast = !strcmp(value, "fast");
    return WS_OK;
}
