/* Compute device of one embed rank: the GPU picked from the node-local rank, the backend the
 * model runs on, the memory check before any weight is allocated, the TP communicator the model
 * all-reduces with (MPI on CPU; NCCL on GPUs when every rank of the group has its own GPU, else
 * the MPI communicator staged through pinned memory), and the host batch buffer (pinned on GPUs,
 * so the model's upload runs at full bus speed). Without a CUDA build, --device cuda is an error
 * naming the build. Order: embed_device_pick (before the layout is printed) -> embed_device_setup
 * (before the model loads) -> ... -> ws_model_free -> embed_device_free. */
#ifndef WEBSSL_DRIVER_EMBED_DEVICE_H
#define WEBSSL_DRIVER_EMBED_DEVICE_H

#include <stddef.h>

#include "driver/embed_run.h"

/* Set r->gpu (-1 on CPU) and r->device_name ("cpu" or "cuda:N"). Local; errors name --device. */
int embed_device_pick(embed_run *r);
/* Create r->be (NULL on CPU: the model makes its own), check the device (on CPU: host) memory for the run's
 * architecture, resolution, batch, tp and dtype (the error gives the memory needed and a tp that
 * fits), and create r->comm. Collective over the TP group on GPUs with tp > 1. */
int embed_device_setup(embed_run *r);
/* A host buffer for batches (pinned on GPUs); free with embed_device_host_free. NULL: no memory. */
void *embed_device_host_alloc(const embed_run *r, size_t bytes);
void embed_device_host_free(const embed_run *r, void *p);
/* Free r->comm and r->be (after ws_model_free). */
void embed_device_free(embed_run *r);

#endif
