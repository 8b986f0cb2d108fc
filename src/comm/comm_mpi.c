/* MPI communicator over host buffers (see comm_mpi.h). */
#include "comm/comm_mpi.h"
#include "common/error.h"

#include <limits.h>
#include <stdlib.h>

typedef struct {
    MPI_Comm comm;
    float *scratch;      /* f32 widening buffer for bf16/f16 reductions */
    size_t scratch_len;  /* in floats */
} mpi_impl;

#define MPI_PIECE ((size_t)1 << 30)  /* elements or bytes per call, below INT_MAX */

static int reduce_f32(mpi_impl *m, float *buf, size_t count) {
    for (size_t off = 0; off < count; off += MPI_PIECE) {
        size_t n = count - off < MPI_PIECE ? count - off : MPI_PIECE;
        if (MPI_Allreduce(MPI_IN_PLACE, buf + off, (int)n, MPI_FLOAT, MPI_SUM, m->comm) != MPI_SUCCESS)
            return ws_errorf(WS_ERR_COMM, "MPI_Allreduce of %zu floats failed", n);
    }
    return WS_OK;
}

static int mpi_allreduce_sum(ws_comm *c, void *buf, size_t count, ws_dtype dt) {
    mpi_impl *m = c->impl;
    double t0 = MPI_Wtime();
    int rc;
    if (dt == WS_DTYPE_F32) {
        rc = reduce_f32(m, buf, count);
    } else if (dt == WS_DTYPE_BF16 || dt == WS_DTYPE_F16) {
        if (m->scratch_len < count) {
            float *p = realloc(m->scratch, count * sizeof *p);
            if (!p) return ws_errorf(WS_ERR_NOMEM, "all-reduce scratch of %zu floats", count);
            m->scratch = p;
            m->scratch_len = count;
        }
        ws_convert_to_f32(m->scratch, buf, dt, count);
        rc = reduce_f32(m, m->scratch, count);
        if (rc == WS_OK) ws_convert_from_f32(buf, dt, m->scratch, count);
    } else {
        return ws_errorf(WS_ERR_UNSUPPORTED, "all-reduce of dtype %s", ws_dtype_name(dt));
    }
    c->comm_seconds += MPI_Wtime() - t0;
    return rc;
}

static int mpi_broadcast(ws_comm *c, void *buf, size_t bytes, int root) {
    mpi_impl *m = c->impl;
    double t0 = MPI_Wtime();
    for (size_t off = 0; off < bytes; off += MPI_PIECE) {
        size_t n = bytes - off < MPI_PIECE ? bytes - off : MPI_PIECE;
        if (MPI_Bcast((char *)buf + off, (int)n, MPI_BYTE, root, m->comm) != MPI_SUCCESS)
            return ws_errorf(WS_ERR_COMM, "MPI_Bcast of %zu bytes from rank %d failed", n, root);
    }
    c->comm_seconds += MPI_Wtime() - t0;
    return WS_OK;
}

static void mpi_free(ws_comm *c) {
    mpi_impl *m = c->impl;
    free(m->scratch);
    free(m);
    free(c);
}

static const ws_comm_ops mpi_ops = {
    .name = "mpi",
    .allreduce_sum = mpi_allreduce_sum,
    .broadcast = mpi_broadcast,
    .free = mpi_free,
    .capturable = 0,
};

ws_comm *comm_mpi_create(MPI_Comm group) {
    ws_comm *c = calloc(1, sizeof *c);
    mpi_impl *m = calloc(1, sizeof *m);
    if (!c || !m) {
        free(c);
        free(m);
        return NULL;
    }
    m->comm = group;
    MPI_Comm_rank(group, &c->rank);
    MPI_Comm_size(group, &c->size);
    c->ops = &mpi_ops;
    c->impl = m;
    return c;
}
