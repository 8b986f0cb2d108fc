/* All-reduce micro-benchmark of the project's MPI communicator (comm/comm_mpi.h), the call the
 * forward pass makes twice per block under tensor parallelism. Run under mpirun with the TP
 * size as the rank count; rank 0 prints one CSV line per message size:
 *   ranks,bytes,iters,seconds,algbw_GBps,busbw_GBps
 * (nccl-tests conventions: algbw = bytes / seconds; busbw = algbw * 2 (ranks-1) / ranks, the
 * per-rank link traffic of a ring). Sizes: powers of 4 from 4 KiB to 256 MiB, or the byte
 * counts given as arguments. Each size runs 3 rounds of about 0.1 s after one warm-up call and
 * reports the fastest round (the slowest rank's time in it): on a machine shared with other
 * work, the fastest round is the closest to what the hardware does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm_mpi.h"
#include "comm/topology.h"
#include "common/error.h"

static double time_size(ws_comm *c, float *buf, size_t n, int *iters_out) {
    if (comm_allreduce_sum(c, buf, n, WS_DTYPE_F32) < 0) return -1;   /* warm-up */
    /* Pick the iteration count on rank 0 from one timed call, so every rank runs the same. */
    double t0 = MPI_Wtime();
    if (comm_allreduce_sum(c, buf, n, WS_DTYPE_F32) < 0) return -1;
    double one = MPI_Wtime() - t0;
    int iters = one > 0 ? (int)(0.1 / one) : 1000;
    iters = iters < 5 ? 5 : iters > 1000 ? 1000 : iters;
    MPI_Bcast(&iters, 1, MPI_INT, 0, MPI_COMM_WORLD);
    double best = 0;
    for (int round = 0; round < 3; round++) {
        MPI_Barrier(MPI_COMM_WORLD);
        t0 = MPI_Wtime();
        for (int i = 0; i < iters; i++)
            if (comm_allreduce_sum(c, buf, n, WS_DTYPE_F32) < 0) return -1;
        double dt = (MPI_Wtime() - t0) / iters, slowest;
        MPI_Allreduce(&dt, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        best = round == 0 || slowest < best ? slowest : best;
    }
    *iters_out = iters;
    return best;
}

int main(int argc, char **argv) {
    if (topology_mpi_init(&argc, &argv) < 0) {
        fprintf(stderr, "allreduce_bench: %s\n", ws_error_message());
        return 1;
    }
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    size_t sizes[64];
    int nsizes = 0;
    if (argc > 1) {
        for (int i = 1; i < argc && nsizes < 64; i++) {
            char *end;
            unsigned long long b = strtoull(argv[i], &end, 10);
            if (*end || b < 4) {
                if (rank == 0) fprintf(stderr, "allreduce_bench: size '%s' must be a byte count >= 4\n", argv[i]);
                MPI_Finalize();
                return 1;
            }
            sizes[nsizes++] = (size_t)b;
        }
    } else {
        for (size_t b = 4096; b <= ((size_t)256 << 20); b *= 4) sizes[nsizes++] = b;
    }
    ws_comm *c = comm_mpi_create(MPI_COMM_WORLD);
    size_t maxb = 0;
    for (int i = 0; i < nsizes; i++) maxb = sizes[i] > maxb ? sizes[i] : maxb;
    float *buf = calloc(maxb / sizeof(float), sizeof(float));
    if (!c || !buf) {
        fprintf(stderr, "allreduce_bench: out of memory for %zu bytes\n", maxb);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    if (rank == 0) printf("ranks,bytes,iters,seconds,algbw_GBps,busbw_GBps\n");
    int status = 0;
    for (int i = 0; i < nsizes; i++) {
        size_t n = sizes[i] / sizeof(float);
        int iters = 0;
        double s = time_size(c, buf, n, &iters);
        if (s < 0) {
            fprintf(stderr, "allreduce_bench: %s\n", ws_error_message());
            status = 1;
            break;
        }
        double alg = (double)(n * sizeof(float)) / s / 1e9;
        if (rank == 0)
            printf("%d,%zu,%d,%.9f,%.4f,%.4f\n", size, n * sizeof(float), iters, s, alg,
                   alg * 2.0 * (size - 1) / size);
    }
    free(buf);
    comm_free(c);
    topology_mpi_finalize();
    return status;
}
