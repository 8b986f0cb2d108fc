/* Communicators over device buffers, run under mpiexec: `nccl` (comm_nccl_create: the TP leader's
 * id broadcast over MPI, one GPU per rank) and `staged` (the MPI communicator staged through
 * pinned host memory, several ranks may share a GPU). Every rank all-reduces a device buffer whose
 * exact sum is known and compares. The operation is called through the table even at one rank,
 * so tp = 1 exercises NCCL too. Skips (77 on every rank) without a GPU, or for nccl with fewer
 * GPUs than ranks. usage: mpiexec -n K test_comm_gpu nccl|staged */
#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include "comm/comm_mpi.h"
#include "comm/comm_staged.h"
#include "gpu_common.h"
#ifdef WEBSSL_HAVE_NCCL
#include "comm/comm_nccl.h"
#endif

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const char *mode = argc > 1 ? argv[1] : "";
    const int ngpu = backend_device_count("cuda");
    const char *skip = NULL;
    if (ngpu <= 0) skip = "no CUDA device visible";
    else if (!strcmp(mode, "nccl") && ngpu < size) skip = "NCCL needs one GPU per rank and there are fewer GPUs than ranks";
#ifndef WEBSSL_HAVE_NCCL
    if (!strcmp(mode, "nccl")) skip = "built without NCCL";
#endif
    if (skip) {
        if (rank == 0) printf("SKIP test_comm_gpu %s (%d ranks): %s\n", mode, size, skip);
        MPI_Finalize();
        return GPU_TEST_SKIP;
    }
    ws_backend *be = NULL;
    int rc = backend_create("cuda", 0, rank % ngpu, &be);
    ws_comm *c = NULL;
    if (rc == WS_OK && !strcmp(mode, "staged")) {
        c = comm_staged_create(comm_mpi_create(MPI_COMM_WORLD), be);
        if (!c) rc = ws_errorf(WS_ERR_NOMEM, "staged communicator: out of memory");
    }
#ifdef WEBSSL_HAVE_NCCL
    else if (rc == WS_OK && !strcmp(mode, "nccl")) {
        rc = comm_nccl_create(MPI_COMM_WORLD, be, &c);
    }
#endif
    else if (rc == WS_OK) {
        rc = ws_errorf(WS_ERR_ARG, "unknown mode '%s' (nccl or staged)", mode);
    }
    if (rc != WS_OK) {
        fprintf(stderr, "rank %d: %s\n", rank, ws_error_message());
        MPI_Abort(MPI_COMM_WORLD, 1);
    }

    enum { n = 100000 };
    static float x[n], ref[n];
    for (int i = 0; i < n; i++) {
        x[i] = (float)(rank + 1) + (float)(i % 1000) * 0.25f;   /* sums are exact in f32 */
        ref[i] = 0.0f;
        for (int r = 0; r < size; r++) ref[i] += (float)(r + 1) + (float)(i % 1000) * 0.25f;
    }
    float *d = gpu_put(be, x, n);
    rc = c->ops->allreduce_sum(c, d, n, WS_DTYPE_F32);
    float *got = gpu_get(be, d, n);
    int bad = rc != WS_OK;
    char what[64];
    snprintf(what, sizeof what, "rank %d/%d %s all-reduce f32 n=%d", rank, size, c->ops->name, n);
    gpu_diff df = gpu_compare(what, ref, got, n, 1);
    bad |= df.max_abs != 0.0;

    comm_free(c);
    be->ops->free(be, d);
    backend_free(be);
    free(got);
    int any = 0;
    MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Finalize();
    return any ? 1 : 0;
}
