/* Compute device and TP communicator of one rank, set up the same way for `embed` and `bench`
 * (in the start order of comm/topology.h): device_pick (the GPU from the node-local rank, before the layout is printed)
 * -> device_setup (backend, device memory check, TP communicator; before the model loads) -> ...
 * -> ws_model_free -> device_free. Picks no implementation itself: backend_create and
 * comm_create_tp (comm/comm_tp.h: MPI on host buffers, NCCL when every rank of a group has its
 * own GPU, else MPI staged through pinned memory) do. */
#ifndef WEBSSL_DRIVER_DEVICE_H
#define WEBSSL_DRIVER_DEVICE_H

#include "backend/backend.h"
#include "comm/comm.h"
#include "comm/topology.h"
#include "common/dtype.h"
#include "common/arch.h"

typedef struct {
    const char *kind;   /* "cpu" or "cuda" (--device) */
    int index;          /* device ordinal: node-local rank modulo the visible GPUs; 0 on cpu */
    int count;          /* devices of this kind visible to the process */
    int sharing;        /* ranks of this node on one device (at most): they split its memory */
    char name[32];      /* "cpu" or "cuda:N", for the layout */
    ws_backend *be;     /* the backend the model runs on (device_setup) */
    ws_comm *comm;      /* the TP group's communicator for the model's all-reduces (device_setup) */
} run_device;

/* Fill d->kind, index, count, sharing and name for the rank `local_rank` of the `local_size` ranks on
 * this node. Local (no communication; also used by --tp auto before the topology exists); errors
 * name --device (unknown kind, a build without it, no device visible). */
int device_pick(const char *kind, int local_rank, int local_size, run_device *d);

/* Create d->be (`threads`: CPU threads, 0 = OpenMP default), check that architecture `a` at
 * resolution R, batch B, t->tp and weight type dt fits the device memory (devices with their own
 * memory: the error gives the memory needed and a tp that fits; the host: the node's memory per
 * rank, the error names --resolution and --batch), and create d->comm over
 * t->tp_comm. Warns when more ranks than GPUs share a node. Collective over the TP group: the
 * same result on every rank of it. */
int device_setup(run_device *d, const ws_topology *t, int threads, const ws_arch *a, int R, int B, ws_dtype dt);

/* Free d->comm and d->be (after ws_model_free). Safe on a zeroed or partly set up run_device. */
void device_free(run_device *d);

#endif
