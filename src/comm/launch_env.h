/* Checks of how the program was launched, made before and after MPI starts, so that a wrong
 * launch stops at once with a message that says how to launch instead of hanging or running
 * every task as its own one-rank world.
 *
 * Launchers recognised: Slurm's srun (environment SLURM_STEP_ID, SLURM_STEP_NUM_TASKS,
 * SLURM_STEP_TASKS_PER_NODE; PMIx gives the MPI wire-up under `srun --mpi=pmix`), Open MPI's
 * mpirun (OMPI_COMM_WORLD_SIZE) and MPICH's mpiexec (MPI_LOCALNRANKS). Inside a Slurm job an
 * mpirun-launched process inherits SLURM_* variables that describe the allocation, not the MPI
 * world: the srun checks apply only to tasks started by srun itself.
 *
 * Order in a command: launch_env_check_pre_mpi() -> topology_mpi_init() -> topology_create()
 * -> launch_env_check_layout() -> device choice. */
#ifndef WEBSSL_COMM_LAUNCH_ENV_H
#define WEBSSL_COMM_LAUNCH_ENV_H

#include "comm/topology.h"

/* Before MPI_Init: WS_ERR_ARG when this process is an srun task started without an MPI plugin
 * (no PMIx or PMI variables in the environment), which Open MPI cannot wire up (it aborts in
 * MPI_Init) and other MPIs turn into N separate one-rank worlds. The message says to launch
 * with `srun --mpi=pmix`. WS_OK otherwise (no Slurm, mpirun, or srun with a plugin). */
int launch_env_check_pre_mpi(void);

/* After topology_create(), for tasks started by srun; the same result on every rank (it
 * depends only on the step's environment and the world size):
 *  - a world size that differs from the step's task count (PMI wire-up failed and every task
 *    is its own world): WS_ERR_ARG naming both counts and `srun --mpi=pmix`;
 *  - tasks per node (SLURM_STEP_TASKS_PER_NODE) that are not a multiple of t->tp, so that a
 *    TP group would span nodes: WS_ERR_ARG naming the counts and --ntasks-per-node.
 * WS_OK for other launchers (topology.h reports TP groups that span nodes under mpirun). */
int launch_env_check_layout(const ws_topology *t);

/* Check a Slurm tasks-per-node list ("4(x2),3": 4 tasks on each of 2 nodes, then 3 on one)
 * against the TP size: every node's count must be a multiple of tp. WS_OK, WS_ERR_ARG naming
 * the first node count that does not fit, or WS_ERR_FORMAT naming the malformed list. */
int launch_env_check_tasks_per_node(const char *tasks_per_node, int tp);

#endif
