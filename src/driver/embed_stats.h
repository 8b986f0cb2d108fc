/* Per-rank timing of an embed run, and the --stats FILE writer: JSON lines, one per shard a TP
 * leader finishes ("event":"shard") and one per rank at the end ("event":"total"), appended with
 * one write(2) each (O_APPEND) so ranks on one file system do not interleave within a line.
 * Fields (seconds unless named otherwise): read (the leader's reader thread inside the shard
 * reader: file and tar I/O), decode (decoding and preprocessing, summed over the decode threads;
 * read and decode overlap compute), input_wait (the leader waiting for decoded batches: reading
 * and decoding not hidden behind compute), scatter (sending a batch to the TP peers), compute
 * (forward pass including its all-reduces, and the DINO head), comm (inside the all-reduces),
 * write (HDF5), images, batches, max_rss_mb (peak resident memory of the rank). */
#ifndef WEBSSL_DRIVER_EMBED_STATS_H
#define WEBSSL_DRIVER_EMBED_STATS_H

#include <stdint.h>

typedef struct {
    double read, decode, input_wait, scatter, compute, comm, write;
    int64_t images, batches;
} embed_times;

/* Open FILE for appending (fd), or -1 with an error naming FILE. NULL path: returns -2 (off). */
int embed_stats_open(const char *path);
void embed_stats_close(int fd);
/* Append one line. shard may be NULL (total line). No-op when fd < 0. */
void embed_stats_write(int fd, int rank, const char *event, const char *shard, const embed_times *t);
void embed_times_add(embed_times *acc, const embed_times *t);
/* Peak resident set size of this process in MiB. */
double embed_max_rss_mb(void);

#endif
