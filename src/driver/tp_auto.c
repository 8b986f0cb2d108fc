/* `--tp auto`: the memory one rank may use, agreed over the job, and the cost model's pick
 * (see tp_auto.h). */
#include "driver/tp_auto.h"
#include "driver/device.h"
#include "comm/topology.h"
#include "common/check.h"
#include "common/error.h"
#include "common/log.h"
#include "loaders/arch_match.h"
#include "model/cost_model.h"

#include <mpi.h>
#include <string.h>

/* Memory this rank may use, in bytes: its device's free memory / the ranks of this node on it. */
static int rank_memory(const char *device, int local_rank, int local_size, double *out) {
    run_device d;
    int rc = device_pick(device, local_rank, local_size, &d);
    size_t free_b = 0, total_b = 0;
    if (rc == WS_OK) rc = backend_memory_info(d.kind, d.index, &free_b, &total_b);
    if (rc != WS_OK) return ws_error_context(rc, "--tp auto");
    *out = (double)free_b / d.sharing;
    return WS_OK;
}

int tp_auto_pick(const ws_ckpt *model, const char *arch_flag, const char *device, int resolution, int B,
                 ws_dtype dt, int *tp) {
    int rank, world;
    MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank));
    MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &world));
    ws_arch a;
    memset(&a, 0, sizeof a);
    int rc = WS_OK;
    if (rank == 0 && (rc = arch_for_checkpoint(model, arch_flag, &a)) != WS_OK)
        rc = ws_error_context(rc, "--tp auto: --model %s", model->path);
    if ((rc = topology_agree(MPI_COMM_WORLD, rc)) != WS_OK) return rc;
    MPI_CHECK(MPI_Bcast(&a, (int)sizeof a, MPI_BYTE, 0, MPI_COMM_WORLD));

    MPI_Comm node;
    int local_rank, local_size;
    MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node));
    MPI_CHECK(MPI_Comm_rank(node, &local_rank));
    MPI_CHECK(MPI_Comm_size(node, &local_size));
    MPI_CHECK(MPI_Comm_free(&node));
    double mem = 0;
    rc = topology_agree(MPI_COMM_WORLD, rank_memory(device, local_rank, local_size, &mem));
    if (rc != WS_OK) return rc;
    MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &mem, 1, MPI_DOUBLE, MPI_MIN, MPI_COMM_WORLD));

    /* Same inputs on every rank: the same answer (or the same error) everywhere. */
    char why[512];
    int picked = cost_pick_tp(&a, resolution, B, dt, world, mem, why, sizeof why);
    if (picked < 0) return picked;
    if (rank == 0) LOG_INFO("--tp auto (%s, %d ranks, %s): %s", a.name, world, device, why);
    *tp = picked;
    return WS_OK;
}
