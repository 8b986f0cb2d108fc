/* The webssl-dist subcommands, one file each (cmd_<name>.c: its flag table, cli/flags.h, and a
 * call into the engine), and the program's exit statuses. The CLI is the only layer that decides
 * to stop: library calls return codes and messages. */
#ifndef WEBSSL_CLI_COMMANDS_H
#define WEBSSL_CLI_COMMANDS_H

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
int cmd_verify(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_preprocess(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_cluster(int argc, char **argv);
int cmd_dedup(int argc, char **argv);
int cmd_sample(int argc, char **argv);

#endif
