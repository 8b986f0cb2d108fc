/* Cost model of one forward pass of a Web-SSL ViT under Megatron tensor parallelism: FLOPs,
 * weights and activations per TP rank, bytes all-reduced, and from them an expected throughput on
 * a described machine (a roofline: compute or weight streaming, whichever is slower, plus the
 * two all-reduces per block, which sit on the critical path). It is what `--tp auto` uses to pick
 * the smallest tensor-parallel size that fits, and what `webssl-dist cost` prints; docs/scaling.md
 * explains the formulas and where each hardware figure comes from.
 *
 * Sharding is the model's own (model/weights.h, weights_tp_slice): rank r of tp holds
 * NH/tp (+1 for r < NH%tp) heads and about H/tp FFN columns (in units of 8); qkv, w12/fc1 are split
 * by output rows, proj, w3/fc2 by input columns; embeddings, norms, biases of the row-parallel
 * layers and LayerScale are replicated. Activations and all-reduce buffers are f32 in every
 * backend (backend/backend.h). Rank 0 holds the most, so "per rank"
 * figures below are rank 0's (the one that must fit). Units: bytes, FLOPs (2 per multiply-add),
 * seconds, images. */
#ifndef WEBSSL_MODEL_COST_MODEL_H
#define WEBSSL_MODEL_COST_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "common/dtype.h"
#include "common/arch.h"

typedef struct {
    int B, N, C, L;               /* batch, tokens, channels, depth */
    int tp;                       /* tensor-parallel size */
    int res;                      /* input resolution R */
    ws_dtype dtype;               /* GEMM weight type (f32 or bf16); activations and all-reduces are f32 */
    int heads_rank, hidden_rank;  /* rank 0's share of heads and FFN columns */
    int64_t params;               /* whole backbone as checkpointed (= arch_param_count) */
    int64_t params_rank;          /* held by rank 0 (model/weights.h fields; no DINO mask token) */
    double flops_image;           /* whole forward, one image (= arch_flops_per_image) */
    double flops_image_rank;      /* rank 0's share of one image (replicated parts counted once per rank) */
    size_t weight_bytes_rank;     /* rank 0's weight allocation (weights_sizes): matrices in dtype, rest f32 */
    size_t activation_bytes_rank; /* forward workspace of rank 0 for a batch of B (see cost_model.c) */
    size_t allreduce_bytes_block; /* per block and batch: 2 all-reduces of B*N*C f32 (0 at tp 1) */
    double allreduce_bytes_image; /* per image, whole depth: L * 2 * N * C * 4 (0 at tp 1) */
    int allreduces_batch;         /* all-reduce calls per batch: 2 * L (0 at tp 1) */
} ws_cost;

/* A machine as the throughput model sees it: per device (GPU, or CPU socket share of one rank). */
typedef struct {
    const char *name;
    double peak_flops_bf16;   /* dense FLOP/s per device at bf16 */
    double peak_flops_fp32;   /* dense FLOP/s per device at fp32 */
    double mem_bw;            /* device memory bandwidth, bytes/s */
    double memory_bytes;      /* device memory */
    int devices_per_node;     /* TP groups up to this size use the intra-node link */
    double intra_bw;          /* per-device all-reduce link bandwidth inside a node, bytes/s, one direction */
    double intra_latency;     /* seconds per all-reduce inside a node */
    double inter_bw;          /* per-device link bandwidth between nodes, bytes/s, one direction */
    double inter_latency;     /* seconds per all-reduce across nodes */
    double efficiency;        /* fraction of peak FLOP/s the forward reaches (assumed or calibrated) */
    double link_efficiency;   /* fraction of link bandwidth an all-reduce reaches */
} ws_hardware;

typedef struct {
    double compute_s;         /* per batch: flops_image_rank * B / (peak * efficiency) */
    double weights_s;         /* per batch: weight_bytes_rank / mem_bw (weights streamed once) */
    double comm_s;            /* per batch: 2L ring all-reduces of B*N*C elements */
    double batch_s;           /* max(compute_s, weights_s) + comm_s */
    double images_per_s_group;/* one TP group */
    double images_per_s_device;
    double gpu_hours_per_billion; /* device-hours for 1e9 images */
    double comm_share;        /* comm_s / batch_s */
} ws_throughput;

/* Hardware profiles. "h100": H100 SXM 80 GB in 8-GPU nodes, NVLink inside a node, one 400 Gb/s
 * InfiniBand NDR port per GPU; published peak figures and the efficiencies stated in
 * docs/scaling.md. NULL when unknown. */
const ws_hardware *cost_hardware_find(const char *name);

/* Fill `out` for `a` at resolution `res` (<= 0: the native img_size), batch B >= 1, tp >= 1
 * (at most NH), element type `dt`. WS_OK or WS_ERR_ARG naming the bad value. */
int cost_compute(const ws_arch *a, int res, int B, int tp, ws_dtype dt, ws_cost *out);

/* Seconds of one ring all-reduce of `bytes` over `tp` devices of `hw` (0 when tp is 1). */
double cost_allreduce_seconds(const ws_hardware *hw, int tp, double bytes);

/* Expected throughput of `c` on `hw`. */
void cost_throughput(const ws_cost *c, const ws_hardware *hw, ws_throughput *out);

/* Memory a rank needs: weights + activations, plus the fixed headroom fraction cost_pick_tp keeps. */
double cost_rank_bytes(const ws_cost *c);

/* `--tp auto`: the smallest tp that divides world_size, is at most NH, and whose rank-0 weights
 * plus activations (cost_rank_bytes) fit in `memory_bytes`. Every rank must pass the same
 * memory figure (the minimum over ranks) so that all pick the same tp. Writes a one-line reason
 * ("tp 2: 7.2 GiB weights + 1.1 GiB activations per rank fit in 12.0 GiB; tp 1 needs 15.4 GiB")
 * into `why`. Returns tp >= 1, or WS_ERR_ARG (message says how much the largest tp needs) when
 * none fits. */
int cost_pick_tp(const ws_arch *a, int res, int B, ws_dtype dt, int world_size, double memory_bytes,
                 char *why, size_t why_len);

#endif
