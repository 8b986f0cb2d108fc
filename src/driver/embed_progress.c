/* Progress line of an embed run (see embed_progress.h). */
#include "driver/embed_progress.h"
#include "common/log.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void embed_progress_init(embed_progress *p, int64_t total_shards) {
    p->t0 = p->last = MPI_Wtime();
    p->tty = isatty(STDERR_FILENO);
    const char *s = getenv("WEBSSL_PROGRESS_SECONDS");
    p->interval = p->tty ? 0.5 : (s && atof(s) > 0 ? atof(s) : 30.0);
    p->drawn = 0;
    p->total = total_shards;
}

static void format_eta(double s, char *buf, size_t len) {
    if (s < 0) {
        snprintf(buf, len, "--");
        return;
    }
    long t = (long)(s + 0.5);
    snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
}

void embed_progress_show(embed_progress *p, const int64_t c[EQ_COUNT], int final) {
    double now = MPI_Wtime();
    if (!final && now - p->last < p->interval) return;
    p->last = now;
    double el = now - p->t0;
    int64_t finished = c[EQ_SHARDS_DONE] + c[EQ_SHARDS_SKIPPED] + c[EQ_SHARDS_FAILED];
    int64_t worked = c[EQ_SHARDS_DONE] + c[EQ_SHARDS_FAILED];
    int64_t left = p->total - finished;
    double eta = worked > 0 && el > 0 ? el / (double)worked * (double)left : (left == 0 ? 0 : -1);
    char etas[32];
    format_eta(eta, etas, sizeof etas);
    char line[256];
    snprintf(line, sizeof line,
             "shards %lld/%lld (%lld skipped) | images %lld | %.1f img/s | ETA %s | failed: %lld shards, %lld images",
             (long long)finished, (long long)p->total, (long long)c[EQ_SHARDS_SKIPPED], (long long)c[EQ_IMAGES],
             el > 0 ? (double)c[EQ_IMAGES] / el : 0.0, etas, (long long)c[EQ_SHARDS_FAILED],
             (long long)c[EQ_IMAGES_FAILED]);
    if (p->tty) {
        fprintf(stderr, "\r%s\033[K", line);
        p->drawn = 1;
        if (final) {
            fputc('\n', stderr);
            p->drawn = 0;
        }
        fflush(stderr);
    } else {
        LOG_INFO("progress: %s", line);
    }
}
