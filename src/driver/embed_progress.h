/* Progress of an embed run, shown by world rank 0 from the job-wide counters: shards done/total,
 * images, images/s, ETA and failures. On a terminal one line is redrawn in place (at most twice
 * a second); otherwise (a log file) one line is printed every WEBSSL_PROGRESS_SECONDS seconds
 * (default 30). */
#ifndef WEBSSL_DRIVER_EMBED_PROGRESS_H
#define WEBSSL_DRIVER_EMBED_PROGRESS_H

#include <stdint.h>

#include "driver/embed_queue.h"

typedef struct {
    double t0, last;
    double interval;     /* seconds between lines */
    int tty;             /* stderr is a terminal */
    int drawn;           /* a line is on the terminal (needs a newline before other output) */
    int64_t total;       /* shards in the input */
} embed_progress;

void embed_progress_init(embed_progress *p, int64_t total_shards);
/* Show the counters if a line is due, or always when `final`. */
void embed_progress_show(embed_progress *p, const int64_t c[EQ_COUNT], int final);

#endif
