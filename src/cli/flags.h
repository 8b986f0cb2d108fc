/* The flags of every command, table-driven: each command declares one table of its flags (name,
 * kind, the field of its options struct it fills, help line) and flags_parse() reads argv from it,
 * flags_usage() prints `webssl-dist CMD --help` from it. A flag's bounds live in one table here
 * (flags.c), so a flag accepts the same range in every command that has it.
 *
 * Adding a flag to a command is one line in its table (plus the field in its options struct, and
 * a line of bounds in flags.c for a number); adding a command is a table, an options struct and
 * one line in main.c (docs/contributing.md, "Adding a command or a flag"). */
#ifndef WEBSSL_CLI_FLAGS_H
#define WEBSSL_CLI_FLAGS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/dtype.h"

typedef enum {
    FLAG_SECTION,    /* no flag: `help` is a heading printed in the usage */
    FLAG_STRING,     /* const char *: the value as given (a positional when the name has no "--") */
    FLAG_SWITCH,     /* int: set to `set` (1 when 0), takes no value */
    FLAG_INT,        /* int within the flag's bounds (flags.c) */
    FLAG_INT_AUTO,   /* int within the bounds, or "auto" stored as 0 */
    FLAG_LONG,       /* long long within the bounds */
    FLAG_REAL,       /* double in (lo, hi] of the bounds */
    FLAG_SECONDS,    /* double seconds in [lo, hi] of the bounds */
    FLAG_BYTES,      /* uint64_t: a positive byte count, optional suffix k, M, G or T (powers of 1024) */
    FLAG_CHOICE,     /* int: the value of the word given among `choices` */
    FLAG_WORD,       /* const char *: one of the words of `choices`, as given */
    FLAG_DTYPE,      /* ws_dtype: one of the dtypes listed in `words` ("fp32|bf16"); f32, float32 and the
                      * like are accepted for fp32 (common/dtype.h) */
    FLAG_FEATURES,   /* unsigned: a WS_FEAT_* list (io/h5_writer.h) */
} flag_kind;

enum {
    FLAG_REQUIRED = 1,   /* the command refuses to run without it */
    FLAG_ONCE = 2,       /* a string flag given twice is an error (two --input specs are never meant as one) */
};

typedef struct {
    const char *word;
    int value;
} flag_choice;

typedef struct {
    const char *name;              /* "--batch"; a positional's name ("DIR") has no leading "--" */
    const char *metavar;           /* the value's name in the usage ("B"); NULL for switches */
    flag_kind kind;
    size_t offset;                 /* offsetof(the command's options struct, the field it fills) */
    const char *help;              /* one line, or several joined by '\n'; "[...]" ends it when the
                                    * default is not shown from the options' defaults */
    unsigned attrs;                /* FLAG_REQUIRED, FLAG_ONCE */
    int set;                       /* FLAG_SWITCH: the value it sets (1 when 0) */
    const flag_choice *choices;    /* FLAG_CHOICE, FLAG_WORD: ended by {NULL, 0} */
    const char *words;             /* FLAG_DTYPE: the dtypes accepted, "fp32|bf16" */
} flag_spec;

/* One line of a table: FLAG("--batch", "B", FLAG_INT, offsetof(opts, batch), "images per pass"), then
 * any of .attrs, .set, .choices, .words as designated initialisers. */
#define FLAG(flag, meta, kind_, off, help_, ...) \
    {.name = (flag), .metavar = (meta), .kind = (kind_), .offset = (off), .help = (help_), __VA_ARGS__}

typedef struct {
    const char *command;     /* "embed" */
    const char *about;       /* printed under the flags by --help (may be NULL) */
    const flag_spec *flags;
    size_t count;
} flag_table;

#define FLAG_TABLE(cmd, about, specs) {cmd, about, specs, sizeof specs / sizeof specs[0]}

/* flags_parse's return when --help or -h was given. */
#define FLAGS_HELP 1

/* Fill `opts` (already holding the command's defaults) from argv (argv[0] is the command name).
 * WS_OK, FLAGS_HELP, or WS_ERR_ARG with a message naming the flag: "--batch '0': expected an
 * integer in [1, 65536]", "unknown option '--frobnicate'", "--model is required". */
int flags_parse(const flag_table *t, int argc, char **argv, void *opts);
/* The usage of the command: synopsis, one line per flag with its default from `defaults` (the
 * options struct as the command fills it before parsing; NULL: none shown), then `about`. */
void flags_usage(const flag_table *t, const void *defaults, FILE *f);
/* flags_parse and what every command does with its outcome: -1 when the command goes on, or the
 * exit status after printing the usage (--help, to stdout, defaults from `opts` as given, `size`
 * bytes) or "webssl-dist CMD: <message>" (to stderr). `loud` 0 prints nothing (the other MPI
 * ranks). */
int flags_parse_or_exit(const flag_table *t, int argc, char **argv, void *opts, size_t size, int loud);

/* One value, parsed and bounded as in the tables (for values a command reads itself, e.g. the GiB
 * of `cost --device-memory GiB|host`). WS_OK or WS_ERR_ARG naming `flag`. */
int flag_int(const char *flag, const char *value, int *out);
int flag_long(const char *flag, const char *value, long long *out);
int flag_real(const char *flag, const char *value, double *out);

#endif
