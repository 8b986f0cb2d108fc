/* Job-wide counters in an MPI window on world rank 0 (see embed_queue.h). */
#include "driver/embed_queue.h"
#include "common/check.h"
#include "common/error.h"

#include <string.h>

int embed_queue_create(MPI_Comm world, embed_queue *q) {
    int rank;
    MPI_Comm_rank(world, &rank);
    memset(q, 0, sizeof *q);
    MPI_Aint bytes = rank == 0 ? (MPI_Aint)(EQ_COUNT * sizeof(int64_t)) : 0;
    if (MPI_Win_allocate(bytes, sizeof(int64_t), MPI_INFO_NULL, world, &q->base, &q->win) != MPI_SUCCESS)
        return ws_errorf(WS_ERR_COMM, "MPI_Win_allocate for the shard queue failed");
    if (rank == 0) {
        MPI_CHECK(MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, q->win));
        memset(q->base, 0, EQ_COUNT * sizeof(int64_t));
        MPI_CHECK(MPI_Win_unlock(0, q->win));
    } else {
        q->base = NULL;
    }
    MPI_CHECK(MPI_Barrier(world));  /* counters are zero before anyone claims */
    return WS_OK;
}

void embed_queue_free(embed_queue *q) {
    if (q->win != MPI_WIN_NULL && q->win) MPI_Win_free(&q->win);
}

int64_t embed_queue_add(embed_queue *q, embed_counter c, int64_t v) {
    int64_t before = 0;
    MPI_CHECK(MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, q->win));
    MPI_CHECK(MPI_Fetch_and_op(&v, &before, MPI_INT64_T, 0, (MPI_Aint)c, MPI_SUM, q->win));
    MPI_CHECK(MPI_Win_unlock(0, q->win));
    return before;
}

int64_t embed_queue_get(embed_queue *q, embed_counter c) {
    int64_t v = 0, unused = 0;
    MPI_CHECK(MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, q->win));
    MPI_CHECK(MPI_Fetch_and_op(&unused, &v, MPI_INT64_T, 0, (MPI_Aint)c, MPI_NO_OP, q->win));
    MPI_CHECK(MPI_Win_unlock(0, q->win));
    return v;
}

void embed_queue_snapshot(embed_queue *q, int64_t out[EQ_COUNT]) {
    MPI_CHECK(MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, q->win));
    MPI_CHECK(MPI_Get_accumulate(NULL, 0, MPI_INT64_T, out, EQ_COUNT, MPI_INT64_T, 0, 0, EQ_COUNT,
                                 MPI_INT64_T, MPI_NO_OP, q->win));
    MPI_CHECK(MPI_Win_unlock(0, q->win));
}
