/* Drawing and reading the k-means training rows (see train_rows.h). */
#include "curate/train_rows.h"
#include "common/error.h"
#include "comm/topology.h"
#include "curate/kmeans.h"

#include <stdlib.h>
#include <string.h>

enum { READ_BLOCK = 8192 };   /* rows read at once from a shard */

/* Read the rows at sorted global positions pos[0..m) into X (packed), keeping the usable ones. */
static int read_positions(const emb_set *set, const int64_t *pos, int64_t m, int normalise, float *X, int64_t *kept) {
    const int D = set->D;
    float *buf = malloc((size_t)READ_BLOCK * D * sizeof(float));
    int8_t *st = malloc(READ_BLOCK);
    int rc = buf && st ? WS_OK : ws_errorf(WS_ERR_NOMEM, "out of memory reading training rows");
    *kept = 0;
    for (int64_t i = 0; rc == WS_OK && i < m;) {
        const emb_shard *s = &set->shards[emb_set_find(set, pos[i])];
        const int64_t r0 = pos[i] - s->first;
        int64_t r1 = r0 + READ_BLOCK < s->rows ? r0 + READ_BLOCK : s->rows;
        rc = emb_shard_read(set, s, r0, r1 - r0, buf, st);
        for (; rc == WS_OK && i < m && pos[i] - s->first < r1; i++) {
            float *x = buf + (size_t)(pos[i] - s->first - r0) * D;
            if (emb_row_prepare(x, D, st[pos[i] - s->first - r0], normalise) != EMB_ROW_OK) continue;
            memcpy(X + (size_t)(*kept)++ * D, x, (size_t)D * sizeof(float));
        }
    }
    free(buf), free(st);
    return rc;
}

int train_rows_load(const emb_set *set, int64_t max_rows, uint64_t seed, int normalise, MPI_Comm comm,
                    train_rows *t) {
    memset(t, 0, sizeof *t);
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    const int64_t S = set->rows < max_rows ? set->rows : max_rows;
    int64_t *pos = malloc((size_t)(S ? S : 1) * sizeof *pos);
    int rc = pos ? WS_OK : ws_errorf(WS_ERR_NOMEM, "out of memory for %lld training positions", (long long)S);
    if (rc == WS_OK) {
        if (S == set->rows)
            for (int64_t i = 0; i < S; i++) pos[i] = i;
        else
            km_choose(seed, set->rows, S, pos);
    }
    const int64_t p0 = S * rank / size, p1 = S * (rank + 1) / size;
    if (rc == WS_OK && !(t->X = malloc((size_t)(p1 - p0 ? p1 - p0 : 1) * set->D * sizeof(float))))
        rc = ws_errorf(WS_ERR_NOMEM, "out of memory for %lld training rows of %d", (long long)(p1 - p0), set->D);
    if (rc == WS_OK) rc = read_positions(set, pos + p0, p1 - p0, normalise, t->X, &t->n);
    free(pos);
    rc = topology_agree(comm, rc);
    t->drawn = S;
    if (rc == WS_OK) {
        int64_t first = 0;
        if (MPI_Exscan(&t->n, &first, 1, MPI_INT64_T, MPI_SUM, comm) != MPI_SUCCESS ||
            MPI_Allreduce(&t->n, &t->total, 1, MPI_INT64_T, MPI_SUM, comm) != MPI_SUCCESS)
            rc = ws_errorf(WS_ERR_COMM, "training rows: all-reduce of the counts failed");
        t->first = rank == 0 ? 0 : first;
    }
    if (rc) train_rows_free(t);
    return rc;
}

void train_rows_free(train_rows *t) {
    free(t->X);
    memset(t, 0, sizeof *t);
}
