/* Stop requests for `embed`: SIGTERM, SIGUSR1 (Slurm's warning signal), SIGINT and SIGHUP set a flag
 * that the driver polls at every batch boundary; the run then stops within one batch, removes
 * the partial shard's temporary file and exits with WS_EXIT_INTERRUPTED. SIGXFSZ is ignored so
 * that exceeding a file size limit is a write error naming the file, not a silent death. */
#ifndef WEBSSL_DRIVER_EMBED_SIGNAL_H
#define WEBSSL_DRIVER_EMBED_SIGNAL_H

void embed_signal_install(void);
/* The signal number received (0 when none). */
int embed_signal_pending(void);

#endif
