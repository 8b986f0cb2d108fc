/* Device choice and device-side setup of `embed` (see embed_device.h); the one embed file that
 * knows whether the CUDA backend and NCCL were built. */
#include "driver/embed_device.h"
#include "backend/cpu/cpu_memory.h"
#include "model/cost_model.h"
#include "comm/comm_mpi.h"
#include "common/check.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef WEBSSL_HAVE_CUDA
#include "backend/cuda/cuda_backend.h"
#endif
#ifdef WEBSSL_HAVE_NCCL
#include "comm/comm_nccl.h"
#endif

static int on_gpu(const embed_run *r) { return !strcmp(r->opt.device, "cuda"); }

/* CPU: weights and activations per rank (model/cost_model.h) plus the attention's score matrix
 * per thread must fit in the node's physical memory shared by its ranks, so that a resolution or
 * batch too large is an error naming both, not an allocation failure inside the forward pass.
 * Physical, not free memory: free memory moves with the page cache and other jobs, and a check
 * against it would refuse runs that fit. */
static int cpu_memory_check(const embed_run *r) {
    ws_cost c;
    int rc = cost_compute(&r->arch, r->R, r->B, r->topo.tp, r->opt.dtype, &c);
    if (rc != WS_OK) return rc;
    const double GIB = 1024.0 * 1024.0 * 1024.0;
    int T = cpu_backend_threads(r->opt.threads);
    double scores = (double)cpu_attention_thread_bytes(c.N), rest = cost_rank_bytes(&c);
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    double need = rest + scores * T, have = (double)pages * (double)page / r->topo.local_size;
    if (pages <= 0 || page <= 0 || need <= have) return WS_OK;
    return ws_errorf(WS_ERR_LIMIT,
                     "--resolution %d, --batch %d: %s needs about %.1f GiB per rank (%d tokens per image: "
                     "attention scores %.2f GiB per thread x %d threads, weights and activations %.2f GiB) "
                     "but the node has %.1f GiB of memory per rank; lower --resolution or --batch",
                     r->R, r->B, r->arch.name, need / GIB, c.N, scores / GIB, T, rest / GIB, have / GIB);
}

int embed_device_pick(embed_run *r) {
    r->gpu = -1;
    snprintf(r->device_name, sizeof r->device_name, "%s", r->opt.device);
    if (!on_gpu(r)) return WS_OK;
#ifdef WEBSSL_HAVE_CUDA
    int rc = cuda_device_for_rank(r->topo.local_rank, r->topo.local_size, &r->gpu);
    if (rc == WS_OK) snprintf(r->device_name, sizeof r->device_name, "cuda:%d", r->gpu);
    return rc;
#else
    return ws_errorf(WS_ERR_UNSUPPORTED, "--device cuda: this build has no CUDA backend (configure where nvcc is found)");
#endif
}

#ifdef WEBSSL_HAVE_CUDA
/* 1 when no two ranks of the TP group share a GPU (host name and device ordinal). Collective. */
static int gpus_distinct(const embed_run *r) {
    struct {
        char host[WS_HOST_MAX];
        int gpu;
    } me, *all = calloc((size_t)r->topo.tp, sizeof *all);
    if (!all) ws_fatal(__FILE__, __LINE__, "out of memory comparing the GPUs of a TP group");
    memset(&me, 0, sizeof me);
    snprintf(me.host, sizeof me.host, "%s", r->topo.host);
    me.gpu = r->gpu;
    MPI_CHECK(MPI_Allgather(&me, (int)sizeof me, MPI_BYTE, all, (int)sizeof me, MPI_BYTE, r->topo.tp_comm));
    int distinct = 1;
    for (int i = 0; i < r->topo.tp && distinct; i++)
        for (int j = i + 1; j < r->topo.tp; j++)
            if (all[i].gpu == all[j].gpu && !strcmp(all[i].host, all[j].host)) distinct = 0;
    free(all);
    return distinct;
}

/* The model's communicator over device buffers for tp > 1. */
static int gpu_comm(embed_run *r) {
    int distinct = gpus_distinct(r);
#ifdef WEBSSL_HAVE_NCCL
    if (distinct) {
        if (r->topo.world_rank == 0) LOG_INFO("tp %d on GPUs: NCCL communicator", r->topo.tp);
        return comm_nccl_create(r->topo.tp_comm, cuda_backend_stream(r->be), &r->comm);
    }
#endif
    if (r->topo.world_rank == 0)
        LOG_INFO("tp %d on GPUs: MPI communicator staged through pinned memory (%s)", r->topo.tp,
                 distinct ? "this build has no NCCL" : "ranks of a TP group share a GPU");
    r->comm = cuda_comm_staged_create(comm_mpi_create(r->topo.tp_comm), r->be);
    return r->comm ? WS_OK : ws_errorf(WS_ERR_NOMEM, "staged communicator");
}
#endif

int embed_device_setup(embed_run *r) {
    if (!on_gpu(r) || r->topo.tp == 1) {
        r->comm = comm_mpi_create(r->topo.tp_comm);
        if (!r->comm) return ws_errorf(WS_ERR_NOMEM, "communicator");
    }
    if (!on_gpu(r)) return cpu_memory_check(r);
#ifdef WEBSSL_HAVE_CUDA
    int rc = backend_create("cuda", r->opt.threads, r->gpu, &r->be);
    if (rc == WS_OK) rc = cuda_memory_check(r->be, &r->arch, r->R, r->B, r->topo.tp, r->opt.dtype);
    if (rc != WS_OK) rc = ws_error_context(rc, "--device cuda (GPU %d)", r->gpu);
    /* every rank of the group joins the communicator's creation, or none does */
    if (r->topo.tp > 1 && (rc = topology_agree(r->topo.tp_comm, rc)) == WS_OK) rc = gpu_comm(r);
    return rc;
#else
    return ws_errorf(WS_ERR_UNSUPPORTED, "--device cuda: this build has no CUDA backend");
#endif
}

void *embed_device_host_alloc(const embed_run *r, size_t bytes) {
#ifdef WEBSSL_HAVE_CUDA
    if (r->be) return cuda_host_alloc(bytes);
#endif
    (void)r;
    return malloc(bytes);
}

void embed_device_host_free(const embed_run *r, void *p) {
#ifdef WEBSSL_HAVE_CUDA
    if (r->be) {
        cuda_host_free(p);
        return;
    }
#endif
    (void)r;
    free(p);
}

void embed_device_free(embed_run *r) {
    comm_free(r->comm);   /* NCCL: drains the backend's stream first */
    r->comm = NULL;
    backend_free(r->be);
    r->be = NULL;
}
