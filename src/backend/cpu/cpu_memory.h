/* Host memory check of the CPU backend before a model is loaded: weights and activations per
 * rank (model/cost_model.h) plus the CPU attention's score matrix, N x N floats per thread
 * (attention.c), against the memory available to each rank of the node. A resolution or batch
 * that cannot fit is an error naming both flags and the memory needed, not an allocation
 * failure in the middle of the forward pass. */
#ifndef WEBSSL_BACKEND_CPU_MEMORY_H
#define WEBSSL_BACKEND_CPU_MEMORY_H

#include "common/dtype.h"
#include "model/arch.h"

/* threads: OpenMP threads per rank (0: the OpenMP default); ranks_per_node: ranks sharing the
 * node's memory. WS_OK, or WS_ERR_LIMIT with the figures. */
int cpu_memory_check(const ws_arch *a, int res, int B, int tp, ws_dtype dt, int threads, int ranks_per_node);

#endif
