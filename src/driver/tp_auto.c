/* `--tp auto`: the memory one rank may use, agreed over the job, and the cost model's pick
 * (see tp_auto.h). */
#include "driver/tp_auto.h"
#include "comm/topology.h"
#include "common/check.h"
#include "common/error.h"
#include "common/log.h"
#include "loaders/arch_match.h"
#include "loaders/checkpoint.h"
#include "model/cost_model.h"

#include <mpi.h>
#include <string.h>

#ifdef WEBSSL_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

/* Memory this rank may use, in bytes: 0 with an error when the device cannot be asked. */
static int rank_memory(const char *device, int local_rank, int local_size, double *out) {
    if (!strcmp(device, "cpu")) {
        *out = cost_host_memory_per_rank(local_size);
        return *out > 0 ? WS_OK : ws_errorf(WS_ERR_IO, "--tp auto: cannot read the available host memory");
    }
#ifdef WEBSSL_HAVE_CUDA
    if (!strcmp(device, "cuda")) {
        int n = 0;
        size_t free_b = 0, total_b = 0;
        if (cudaGetDeviceCount(&n) != cudaSuccess || n < 1)
            return ws_errorf(WS_ERR_DEVICE, "--tp auto: no CUDA device");
        if (cudaSetDevice(local_rank % n) != cudaSuccess || cudaMemGetInfo(&free_b, &total_b) != cudaSuccess)
            return ws_errorf(WS_ERR_DEVICE, "--tp auto: cannot read the free memory of GPU %d", local_rank % n);
        int sharing = (local_size + n - 1) / n;   /* ranks placed on one GPU (local_rank % n) */
        *out = (double)free_b / sharing;
        return WS_OK;
    }
#endif
    return ws_errorf(WS_ERR_UNSUPPORTED, "--tp auto: unknown --device '%s'", device);
}

int tp_auto_pick(const char *model_path, const char *arch_flag, const char *device, int resolution,
                 int B, ws_dtype dt, int *tp) {
    int rank, world;
    MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank));
    MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &world));
    ws_arch a;
    memset(&a, 0, sizeof a);
    int rc = WS_OK;
    if (rank == 0) {
        ws_ckpt c;
        rc = ckpt_open(model_path, &c);
        if (rc == WS_OK) {
            rc = arch_for_checkpoint(&c, arch_flag, &a);
            ckpt_close(&c);
        }
        if (rc != WS_OK) rc = ws_error_context(rc, "--tp auto: --model %s", model_path);
    }
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
