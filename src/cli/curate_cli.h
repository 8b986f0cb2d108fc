/* What the curation commands (cluster, dedup) share beyond the flag table (cli/flags.h): their
 * comma-separated lists (cluster --k 20000,2000,200, dedup --eps 0.01,0.05), which the table takes
 * as strings, and the MPI frame: MPI up, flags, topology, the engine, the error said once, MPI
 * down. */
#ifndef WEBSSL_CLI_CURATE_CLI_H
#define WEBSSL_CLI_CURATE_CLI_H

#include "comm/topology.h"

/* "a,b,c" of integers in [lo, hi] into out[max]; *n gets the count. WS_OK or WS_ERR_ARG. */
int curate_flag_ints(const char *flag, const char *value, long long lo, long long hi, long long *out, int max, int *n);
/* "a,b" of numbers in (lo, hi) into out[max]. */
int curate_flag_doubles(const char *flag, const char *value, double lo, double hi, double *out, int max, int *n);

typedef struct {
    const char *name;   /* "cluster" */
    /* Parse argv into opts (`loud`: this rank prints usage and errors). -1 to go on, else the exit
     * status (after --help or a flag error, printed). */
    int (*parse)(int argc, char **argv, int loud, void *opts);
    /* The engine on topology t; rank 0 prints the summary. WS_OK or an error (printed by the frame). */
    int (*run)(const void *opts, const ws_topology *t);
} curate_command;

/* The whole command: its exit status (cli/commands.h). */
int curate_command_main(const curate_command *c, int argc, char **argv, void *opts);

#endif
