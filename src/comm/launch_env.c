/* Launch checks: srun without PMIx, world size and tasks per node vs the Slurm step
 * (see launch_env.h). */
#include "comm/launch_env.h"
#include "common/error.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static int env_set(const char *name) {
    const char *v = getenv(name);
    return v && *v;
}

/* A task started by srun itself, not by an mpirun running inside a Slurm job. */
static int launched_by_srun(void) {
    return env_set("SLURM_STEP_ID") && !env_set("OMPI_COMM_WORLD_SIZE") && !env_set("MPI_LOCALNRANKS");
}

int launch_env_check_pre_mpi(void) {
    if (!launched_by_srun()) return WS_OK;
    if (env_set("PMIX_RANK") || env_set("PMI_RANK") || env_set("PMI_FD")) return WS_OK;
    return ws_errorf(WS_ERR_ARG,
                     "started by srun without an MPI plugin (no PMIx in the environment), so the "
                     "tasks cannot form one MPI world: launch with `srun --mpi=pmix ...` (or export "
                     "SLURM_MPI_TYPE=pmix; `srun --mpi=list` shows the plugins), or run mpirun "
                     "inside the allocation");
}

/* Reads one non-negative decimal count at *p, advancing *p. -1 when there is none. */
static long parse_count(const char **p) {
    if (**p < '0' || **p > '9') return -1;
    errno = 0;
    char *end;
    long v = strtol(*p, &end, 10);
    if (errno || v > INT_MAX) return -1;
    *p = end;
    return v;
}

int launch_env_check_tasks_per_node(const char *tasks_per_node, int tp) {
    const char *p = tasks_per_node;
    long node = 0;
    if (!p || !*p) return ws_errorf(WS_ERR_FORMAT, "SLURM_STEP_TASKS_PER_NODE is empty");
    while (*p) {
        long count = parse_count(&p), repeat = 1;
        if (count < 0) goto malformed;
        if (!strncmp(p, "(x", 2)) {
            p += 2;
            repeat = parse_count(&p);
            if (repeat < 1 || *p != ')') goto malformed;
            p++;
        }
        if (count % tp != 0)
            return ws_errorf(WS_ERR_ARG,
                             "%ld tasks on node %ld of the job step (tasks per node '%s') do not "
                             "fit --tp %d: a TP group must sit inside one node, so ask for "
                             "--ntasks-per-node a multiple of %d",
                             count, node, tasks_per_node, tp, tp);
        node += repeat;
        if (*p == ',') {
            p++;
            if (!*p) goto malformed;
        } else if (*p) {
            goto malformed;
        }
    }
    return WS_OK;
malformed:
    return ws_errorf(WS_ERR_FORMAT, "SLURM_STEP_TASKS_PER_NODE '%s' is not a tasks-per-node list "
                     "such as '4(x2),3'", tasks_per_node);
}

int launch_env_check_layout(const ws_topology *t) {
    if (launched_by_srun()) {
        const char *ntasks = getenv("SLURM_STEP_NUM_TASKS");
        if (ntasks && *ntasks && atol(ntasks) != t->world_size)
            return ws_errorf(WS_ERR_ARG,
                             "srun started %s tasks but MPI sees a world of %d: the tasks did not "
                             "wire up (srun without PMIx?); launch with `srun --mpi=pmix ...`",
                             ntasks, t->world_size);
        const char *per_node = getenv("SLURM_STEP_TASKS_PER_NODE");
        if (per_node && *per_node) {
            int rc = launch_env_check_tasks_per_node(per_node, t->tp);
            if (rc < 0) return rc;
        }
    }
    return WS_OK;
}
