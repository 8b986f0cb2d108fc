/* The table-driven flag parser and usage printer, and every flag's bounds (see flags.h). */
#include "cli/flags.h"
#include "cli/commands.h"
#include "common/check.h"
#include "common/error.h"
#include "data/pipeline.h"
#include "driver/embed_options.h"
#include "io/h5_writer.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The bounds of every numeric flag, whichever command has it. */
static const struct {
    const char *name;
    double lo, hi;
} bounds[] = {
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
    {"--retry-wait", 0, 86400},         /* seconds */
    {"--io-timeout", 1, 86400},         /* seconds */
    {"--efficiency", 0, 1},             /* a fraction of the peak, (0, 1] */
    {"--peak-gflops", 0, INFINITY},
    {"--mem-gbs", 0, INFINITY},
    {"--link-gbs", 0, INFINITY},
    {"--link-latency-us", 0, INFINITY},
    {"--device-memory", 0, INFINITY},   /* GiB */
    {"--max-per-centroid", 1, 1 << 20}, /* curation (cluster, dedup, sample) */
    {"--resample-steps", 0, 100},
    {"--resample-rows", 1, 1 << 20},
    {"--level-iters", 1, 10000},
    {"--seed", 0, 1LL << 53},
    {"--block", 16, 1 << 15},
    {"--target", 1, 1LL << 50},
    {"--level", 0, 9},                  /* deflate level (export) */
    {"--range", 0, 1LL << 62},          /* each end of export's a:b */
};

static void find_bounds(const char *flag, double *lo, double *hi) {
    size_t i = 0, n = sizeof bounds / sizeof bounds[0];
    while (i < n && strcmp(bounds[i].name, flag) != 0) i++;
    WS_ASSERT(i < n);   /* every numeric flag has its bounds in the table */
    *lo = bounds[i].lo;
    *hi = bounds[i].hi;
}

int flag_long(const char *flag, const char *value, long long *out) {
    double lo, hi;
    find_bounds(flag, &lo, &hi);
    char *end = NULL;
    errno = 0;
    long long x = value ? strtoll(value, &end, 10) : 0;
    if (!value || errno || end == value || *end || x < lo || x > hi)
        return ws_errorf(WS_ERR_ARG, "%s '%s': expected an integer in [%.0f, %.0f]", flag, value ? value : "", lo, hi);
    *out = x;
    return WS_OK;
}

int flag_int(const char *flag, const char *value, int *out) {
    long long x = 0;
    int rc = flag_long(flag, value, &x);
    if (rc == WS_OK) {
        WS_ASSERT(x >= INT_MIN && x <= INT_MAX);   /* the bounds of an int flag fit an int */
        *out = (int)x;
    }
    return rc;
}

/* A decimal number in (lo, hi], or [lo, hi] for seconds. */
static int parse_double(const char *flag, const char *value, int closed, const char *what, double *out) {
    double lo, hi;
    find_bounds(flag, &lo, &hi);
    char *end = NULL;
    errno = 0;
    double x = value ? strtod(value, &end) : 0;
    int ok = value && !errno && end != value && !*end && x <= hi && (closed ? x >= lo : x > lo);
    if (!ok && isinf(hi))
        return ws_errorf(WS_ERR_ARG, "%s '%s': expected %s greater than %g", flag, value ? value : "", what, lo);
    if (!ok)
        return ws_errorf(WS_ERR_ARG, "%s '%s': expected %s in %c%g, %g]", flag, value ? value : "", what,
                         closed ? '[' : '(', lo, hi);
    *out = x;
    return WS_OK;
}

int flag_real(const char *flag, const char *value, double *out) {
    return parse_double(flag, value, 0, "a number", out);
}

static int parse_bytes(const char *flag, const char *value, uint64_t *out) {
    char *end = NULL;
    errno = 0;
    unsigned long long x = strtoull(value, &end, 10);
    int shift = !*end ? 0 : !strcmp(end, "k") ? 10 : !strcmp(end, "M") ? 20
              : !strcmp(end, "G") ? 30 : !strcmp(end, "T") ? 40 : -1;
    if (errno || end == value || value[0] == '-' || shift < 0 || x == 0 || x > (UINT64_MAX >> shift))
        return ws_errorf(WS_ERR_ARG, "%s '%s': expected a positive byte count, optionally with k, M, G or T",
                         flag, value);
    *out = (uint64_t)x << shift;
    return WS_OK;
}

/* The words a flag accepts, '|'-separated: its choices, or its dtypes. */
static void choice_words(const flag_spec *s, char *buf, size_t cap) {
    buf[0] = '\0';
    if (!s->choices) snprintf(buf, cap, "%s", s->words ? s->words : "");
    for (const flag_choice *c = s->choices; c && c->word; c++)
        snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", c != s->choices ? "|" : "", c->word);
}

/* The words a flag accepts as "a, b or c". */
static void list_words(const flag_spec *s, char *buf, size_t cap) {
    char words[256];
    choice_words(s, words, sizeof words);
    buf[0] = '\0';
    for (char *w = words, *bar; w; w = bar ? bar + 1 : NULL) {
        bar = strchr(w, '|');
        if (bar) *bar = '\0';
        snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", w == words ? "" : bar ? ", " : " or ", w);
    }
}

static int parse_dtype(const flag_spec *s, const char *value, ws_dtype *out) {
    ws_dtype dt;
    int ok = ws_dtype_parse(value, &dt) == WS_OK;
    if (ok) {   /* among the words? */
        const char *name = ws_dtype_name(dt), *w = s->words;
        size_t len = strlen(name);
        ok = 0;
        for (; w && *w; w += strcspn(w, "|"), w += *w == '|')
            if (!strncmp(w, name, len) && (w[len] == '|' || !w[len])) ok = 1;
    }
    if (!ok) {
        char list[256];
        list_words(s, list, sizeof list);
        return ws_errorf(WS_ERR_ARG, "%s '%s': expected %s", s->name, value, list);
    }
    *out = dt;
    return WS_OK;
}

static int parse_choice(const flag_spec *s, const char *value, void *field) {
    for (const flag_choice *c = s->choices; c->word; c++)
        if (!strcmp(c->word, value)) {
            if (s->kind == FLAG_WORD) *(const char **)field = value;
            else *(int *)field = c->value;
            return WS_OK;
        }
    char list[256];
    list_words(s, list, sizeof list);
    return ws_errorf(WS_ERR_ARG, "%s '%s': expected %s", s->name, value, list);
}

/* Store `value` of flag `s` into its field. */
static int parse_value(const flag_spec *s, const char *value, void *field) {
    switch (s->kind) {
    case FLAG_STRING: *(const char **)field = value; return WS_OK;
    case FLAG_INT_AUTO:
        if (!strcmp(value, "auto")) {
            *(int *)field = 0;
            return WS_OK;
        }
        return flag_int(s->name, value, field);
    case FLAG_INT: return flag_int(s->name, value, field);
    case FLAG_LONG: return flag_long(s->name, value, field);
    case FLAG_REAL: return flag_real(s->name, value, field);
    case FLAG_SECONDS: return parse_double(s->name, value, 1, "seconds", field);
    case FLAG_BYTES: return parse_bytes(s->name, value, field);
    case FLAG_CHOICE:
    case FLAG_WORD: return parse_choice(s, value, field);
    case FLAG_DTYPE: return parse_dtype(s, value, field);
    case FLAG_FEATURES: return h5_features_parse(value, field);
    default: WS_ASSERT(0 && "no value for this kind"); return WS_ERR_ARG;
    }
}

int flags_parse(const flag_table *t, int argc, char **argv, void *opts) {
    unsigned char seen[128] = {0};   /* per flag_spec: given */
    WS_ASSERT(t->count <= sizeof seen);
    size_t next_positional = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) return FLAGS_HELP;
        size_t k = 0;
        if (a[0] == '-' && a[1]) {
            while (k < t->count && !(t->flags[k].kind != FLAG_SECTION && !strcmp(t->flags[k].name, a))) k++;
            if (k == t->count)
                return ws_errorf(WS_ERR_ARG, "unknown option '%s' (see webssl-dist %s --help)", a, t->command);
        } else {   /* the next positional */
            for (size_t p = 0; k < t->count; k++)
                if (t->flags[k].kind == FLAG_STRING && t->flags[k].name[0] != '-' && p++ == next_positional) break;
            if (k == t->count) return ws_errorf(WS_ERR_ARG, "unexpected argument '%s'", a);
            next_positional++;
        }
        const flag_spec *s = &t->flags[k];
        void *field = (char *)opts + s->offset;
        const char *value = s->name[0] != '-' ? a : NULL;
        if (s->kind == FLAG_SWITCH) {
            *(int *)field = s->set ? s->set : 1;
        } else {
            if (!value && i + 1 >= argc) return ws_errorf(WS_ERR_ARG, "%s needs a value", a);
            if (!value) value = argv[++i];
            if ((s->attrs & FLAG_ONCE) && seen[k])
                return ws_errorf(WS_ERR_ARG, "%s is given twice ('%s' and '%s'): give it once", s->name,
                                 *(const char **)field, value);
            int rc = parse_value(s, value, field);
            if (rc != WS_OK) return rc;
        }
        seen[k] = 1;
    }
    for (size_t k = 0; k < t->count; k++)
        if ((t->flags[k].attrs & FLAG_REQUIRED) && !seen[k])
            return ws_errorf(WS_ERR_ARG, "%s is required (see webssl-dist %s --help)", t->flags[k].name, t->command);
    return WS_OK;
}

/* " [default]" of flag `s` from the defaults, or "" when the help says it or there is none. */
static void format_default(const flag_spec *s, const void *defaults, char *buf, size_t cap) {
    buf[0] = '\0';
    if (!defaults || strchr(s->help, '[')) return;
    const void *f = (const char *)defaults + s->offset;
    switch (s->kind) {
    case FLAG_STRING:
    case FLAG_WORD:
        if (*(const char *const *)f) snprintf(buf, cap, " [%s]", *(const char *const *)f);
        break;
    case FLAG_INT:
    case FLAG_INT_AUTO: snprintf(buf, cap, " [%d]", *(const int *)f); break;
    case FLAG_LONG: snprintf(buf, cap, " [%lld]", *(const long long *)f); break;
    case FLAG_REAL:
    case FLAG_SECONDS: snprintf(buf, cap, " [%g]", *(const double *)f); break;
    case FLAG_BYTES: {
        uint64_t b = *(const uint64_t *)f;
        int shift = 40;
        while (shift > 0 && (b & ((UINT64_C(1) << shift) - 1))) shift -= 10;
        snprintf(buf, cap, " [%llu%s]", (unsigned long long)(b >> shift), &"\0\0k\0M\0G\0T"[shift / 5]);
        break;
    }
    case FLAG_CHOICE:
        for (const flag_choice *c = s->choices; c->word; c++)
            if (c->value == *(const int *)f) snprintf(buf, cap, " [%s]", c->word);
        break;
    case FLAG_DTYPE:
        if (*(const ws_dtype *)f < WS_DTYPE_COUNT) snprintf(buf, cap, " [%s]", ws_dtype_name(*(const ws_dtype *)f));
        break;
    case FLAG_FEATURES: {
        char list[96];
        h5_features_format(*(const unsigned *)f, list, sizeof list);
        snprintf(buf, cap, " [%s]", list);
        break;
    }
    default: break;
    }
}

#define USAGE_COLUMN 26

void flags_usage(const flag_table *t, const void *defaults, FILE *f) {
    fprintf(f, "usage: webssl-dist %s", t->command);
    int optional = 0;
    for (size_t k = 0; k < t->count; k++) {
        const flag_spec *s = &t->flags[k];
        if (s->kind == FLAG_SECTION) continue;
        if (s->name[0] != '-') fprintf(f, (s->attrs & FLAG_REQUIRED) ? " %s" : " [%s]", s->name);
        else if (s->attrs & FLAG_REQUIRED) fprintf(f, " %s %s", s->name, s->metavar);
        else optional = 1;
    }
    fprintf(f, "%s\n", optional ? " [options]" : "");
    for (size_t k = 0; k < t->count; k++) {
        const flag_spec *s = &t->flags[k];
        if (s->kind == FLAG_SECTION) {
            fprintf(f, "%s\n", s->help);
            continue;
        }
        char left[512], words[256], def[160];
        if (s->metavar) snprintf(words, sizeof words, "%s", s->metavar);
        else choice_words(s, words, sizeof words);   /* the choices are the value's name */
        snprintf(left, sizeof left, "  %s%s%s", s->name, *words && s->name[0] == '-' ? " " : "",
                 s->name[0] == '-' ? words : "");
        format_default(s, defaults, def, sizeof def);
        int len = (int)strlen(left);
        fprintf(f, "%-*s%s", USAGE_COLUMN, left, len >= USAGE_COLUMN ? "  " : "");
        for (const char *h = s->help; *h; h++) {
            fputc(*h, f);
            if (*h == '\n') fprintf(f, "%*s", USAGE_COLUMN, "");
        }
        fprintf(f, "%s\n", def);
    }
    if (t->about) fputs(t->about, f);
}

int flags_parse_or_exit(const flag_table *t, int argc, char **argv, void *opts, size_t size, int loud) {
    void *defaults = malloc(size);   /* as the command set them, for --help */
    if (defaults) memcpy(defaults, opts, size);
    int rc = flags_parse(t, argc, argv, opts);
    if (rc == FLAGS_HELP && loud) flags_usage(t, defaults, stdout);
    free(defaults);
    if (rc == FLAGS_HELP) return WS_EXIT_OK;
    if (rc != WS_OK) {
        if (loud) fprintf(stderr, "webssl-dist %s: %s\n", t->command, ws_error_message());
        return WS_EXIT_USAGE;
    }
    return -1;
}
