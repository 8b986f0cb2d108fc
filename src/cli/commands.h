/* The webssl-dist subcommands, one file each (cmd_<name>.c), and the program's exit statuses.
 * The CLI is the only layer that decides to stop: library calls return codes and messages. */
#ifndef WEBSSL_CLI_COMMANDS_H
#define WEBSSL_CLI_COMMANDS_H

#include <stdio.h>

#include "driver/embed_options.h"

enum {
    WS_EXIT_OK = 0,             /* everything done */
    WS_EXIT_USAGE = 1,          /* usage or setup error; the message names the argument or file */
    WS_EXIT_FAILED_SHARDS = 2,  /* finished, but some shards failed (listed in the summary) */
    WS_EXIT_INTERRUPTED = 3,    /* stopped by SIGTERM/SIGUSR1/SIGINT/SIGHUP; rerun to resume */
};

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);   /* argv[0] is the subcommand name */
    const char *summary;
} ws_command;

int cmd_models(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_cost(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_index(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_preprocess(int argc, char **argv);
int cmd_convert(int argc, char **argv);

/* `embed` flags (embed_options.c): parse argv (argv[0] is "embed"). WS_OK, or WS_ERR_ARG with a
 * message naming the flag. */
int embed_options_parse(int argc, char **argv, embed_options *o);
void embed_options_usage(FILE *f);

#endif
