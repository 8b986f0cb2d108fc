/* The MPI communicator (comm.h) over one MPI communicator, usually a TP group
 * (ws_topology.tp_comm). Buffers are host memory. f32 is reduced in place; bf16 and f16 are
 * widened to f32, summed, and rounded once, so every rank gets the same bits. Counts larger than
 * INT_MAX are sent in pieces. Time spent inside the calls accumulates in ws_comm.comm_seconds. */
#ifndef WEBSSL_COMM_COMM_MPI_H
#define WEBSSL_COMM_COMM_MPI_H

#include <mpi.h>

#include "comm/comm.h"

/* Wrap `group` (not duplicated, not freed by comm_free: the topology owns it). NULL when out of
 * memory. */
ws_comm *comm_mpi_create(MPI_Comm group);

#endif
