/* Job-wide counters for `embed`, held in an MPI window on world rank 0 and updated with
 * one-sided atomics, so that TP leaders claim shards dynamically (a slow group never holds the
 * others) and see a stop request raised anywhere without any rank waiting for another.
 * Every call is made by one thread (the main thread); the window is created and freed
 * collectively over the world communicator. */
#ifndef WEBSSL_DRIVER_EMBED_QUEUE_H
#define WEBSSL_DRIVER_EMBED_QUEUE_H

#include <mpi.h>
#include <stdint.h>

typedef enum {
    EQ_NEXT_SHARD = 0,  /* next shard index to hand out */
    EQ_STOP,            /* 1 when some rank was asked to stop (signal) */
    EQ_SHARDS_DONE,     /* shards written in this run */
    EQ_SHARDS_SKIPPED,  /* shards already complete from an earlier run */
    EQ_SHARDS_FAILED,
    EQ_IMAGES,          /* images processed in this run (failed ones included) */
    EQ_IMAGES_FAILED,
    EQ_NO_SPACE,        /* 1 when a shard file could not be written for a full file system */
    EQ_COUNT
} embed_counter;

typedef struct {
    MPI_Win win;
    int64_t *base;      /* EQ_COUNT counters on world rank 0, NULL elsewhere */
} embed_queue;

/* Collective over `world`. WS_OK or WS_ERR_COMM. */
int embed_queue_create(MPI_Comm world, embed_queue *q);
void embed_queue_free(embed_queue *q);
/* Atomically add `v` to counter `c` and return the value before. */
int64_t embed_queue_add(embed_queue *q, embed_counter c, int64_t v);
/* Read counter `c`. */
int64_t embed_queue_get(embed_queue *q, embed_counter c);
/* Read every counter (rank 0's progress display). */
void embed_queue_snapshot(embed_queue *q, int64_t out[EQ_COUNT]);

#endif
