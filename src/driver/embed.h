/* The embed engine's one entry point: everything `webssl-dist embed` does after its flags are
 * parsed (tp auto, topology, device and communicator setup, model, output directory, shard loop,
 * summary), so the command stays thin and tests drive the same engine. */
#ifndef WEBSSL_DRIVER_EMBED_H
#define WEBSSL_DRIVER_EMBED_H

#include "driver/embed_options.h"

/* How a run that got past its setup ended. */
typedef enum {
    EMBED_DONE = 0,            /* every shard written (or already done) */
    EMBED_FAILED_SHARDS = 1,   /* finished, some shards failed (listed in the summary), or stopped
                                * early because the output file system is full */
    EMBED_INTERRUPTED = 2,     /* stopped by SIGTERM/SIGUSR1/SIGINT/SIGHUP; the same command resumes */
} embed_outcome;

/* Run `o` (already checked by the flag parser) on every rank of MPI_COMM_WORLD; MPI must be up
 * (topology_mpi_init) and is left up. Installs the stop-signal handlers. Returns an embed_outcome
 * (the same on every rank), or a negative ws_err with the same message on every rank when a setup
 * step failed anywhere (bad model, input, output directory, device, memory). */
int embed_main(const embed_options *o);

#endif
