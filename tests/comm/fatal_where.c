/* Under mpirun: one rank stops on a failed check (WS_ASSERT through ws_fatal) after MPI is up, and
 * rank 0 logs an error line. fatal_where.py checks that both lines name the host and the rank and
 * that the other ranks are stopped (MPI_Abort), not left hanging.
 * usage: mpirun -np N fatal_where RANK_THAT_FAILS */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "comm/topology.h"
#include "common/check.h"
#include "common/log.h"

int main(int argc, char **argv) {
    if (topology_mpi_init(&argc, &argv) != 0) return 1;
    int rank = 0, failing = argc > 1 ? atoi(argv[1]) : 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank == 0) LOG_ERROR("an error line of rank 0");
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == failing) WS_ASSERT(rank != failing);
    sleep(60);   /* the others wait here until the failing rank's MPI_Abort stops them */
    topology_mpi_finalize();
    return 0;
}
