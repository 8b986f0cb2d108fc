/* Comma-separated lists of the curation commands' flags (see curate_flags.h). */
#include "cli/curate_flags.h"
#include "common/error.h"

#include <errno.h>
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
