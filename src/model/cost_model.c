/* Cost model of a tensor-parallel ViT forward: FLOPs, memory and communication per rank, and the
 * roofline throughput estimate built on them (see cost_model.h and docs/scaling.md). */
#include "model/cost_model.h"
#include "common/error.h"
#include "model/activations.h"
#include "model/weights.h"

#include <stdio.h>
#include <string.h>

#define GIB (1024.0 * 1024.0 * 1024.0)
/* What a rank needs beyond weights and activations: runtime, decode and output buffers, the
 * allocator's slack (10%), and a fixed 512 MiB (CUDA context, MPI buffers, image pipeline). */
#define RESERVE_FRACTION 0.10
#define RESERVE_FIXED (512.0 * 1024.0 * 1024.0)

/* Published figures: H100 SXM5 80 GB (dense bf16 989 TFLOP/s, fp32 67 TFLOP/s without TF32,
 * HBM3 3.35 TB/s, NVLink 4 900 GB/s per GPU both directions = 450 GB/s each way), 8 GPUs per node,
 * one InfiniBand NDR 400 Gb/s (50 GB/s) port per GPU. Efficiencies are assumptions, stated in
 * docs/scaling.md: GEMM-bound ViT inference reaches about half of peak; NCCL all-reduces reach
 * about 80% of link bandwidth for messages of megabytes. */
static const ws_hardware hardware[] = {
    {.name = "h100", .peak_flops_bf16 = 989e12, .peak_flops_fp32 = 67e12, .mem_bw = 3.35e12,
     .memory_bytes = 80e9, .devices_per_node = 8, .intra_bw = 450e9, .intra_latency = 10e-6,
     .inter_bw = 50e9, .inter_latency = 20e-6, .efficiency = 0.5, .link_efficiency = 0.8},
};

const ws_hardware *cost_hardware_find(const char *name) {
    for (size_t i = 0; i < sizeof hardware / sizeof hardware[0]; i++)
        if (!strcmp(hardware[i].name, name)) return &hardware[i];
    return NULL;
}

int cost_compute(const ws_arch *a, int res, int B, int tp, ws_dtype dt, ws_cost *out) {
    if (res <= 0) res = a->img_size;
    if (B < 1) return ws_errorf(WS_ERR_ARG, "cost model: batch %d must be >= 1", B);
    if (tp < 1 || tp > a->num_heads)
        return ws_errorf(WS_ERR_ARG, "cost model: --tp %d must be between 1 and the %d heads of %s", tp,
                         a->num_heads, a->name);
    if (res % a->patch_size)
        return ws_errorf(WS_ERR_ARG, "cost model: resolution %d is not a multiple of patch size %d", res,
                         a->patch_size);
    ws_tp_slice s;
    int rc = weights_tp_slice(a, 0, tp, &s);
    if (rc < 0) return rc;
    memset(out, 0, sizeof *out);
    const size_t C = (size_t)a->embed_dim, L = (size_t)a->depth, N = (size_t)arch_tokens(a, res);
    const size_t hs = C / (size_t)a->num_heads, P = (size_t)a->patch_size;
    const size_t g = (size_t)arch_grid(a, res), act = sizeof(float);
    const size_t NHl = (size_t)s.NHl, Hl = (size_t)s.Hl, Cl = NHl * hs;
    const size_t F = a->ffn == WS_FFN_SWIGLU ? 2 : 1;   /* w12 packs gate and linear rows */
    out->B = B; out->N = (int)N; out->C = (int)C; out->L = (int)L; out->tp = tp; out->res = res;
    out->dtype = dt; out->heads_rank = (int)NHl; out->hidden_rank = (int)Hl;
    out->params = arch_param_count(a);
    out->flops_image = arch_flops_per_image(a, res);

    /* Weights: rank 0's fields as the model allocates them (model/weights.h); the DINO mask
     * token is in the checkpoints but not used at inference, so not held. */
    size_t bytes[WS_W_COUNT];
    out->weight_bytes_rank = weights_sizes(a, &s, dt, bytes);
    for (int f = 0; f < WS_W_COUNT; f++) out->params_rank += (int64_t)weights_field_numel(a, &s, (ws_field)f);

    /* FLOPs: the sharded GEMMs and attention scale with rank 0's share; the patch embedding is
     * replicated (every rank embeds the batch it receives). */
    double patch = 2.0 * (double)(g * g) * (double)C * 3.0 * (double)(P * P);
    double block_rank = 2.0 * (double)N * (double)C * (double)(3 * Cl + Cl + F * Hl + Hl)
                      + 4.0 * (double)N * (double)N * (double)Cl;
    out->flops_image_rank = patch + (double)L * block_rank;

    /* Activations: the buffers the forward pass allocates for a batch (model/activations.h;
     * pixel staging included), counted with f32 activations between ops:
     * the most any backend holds (the CPU without native bf16 keeps them f32 in bf16 compute; CUDA
     * holds them in bf16 then, which this estimate overstates); the interpolated
     * position table, the caller's input images, and an allowance for the backends' scratch: in
     * bf16 the rounded GEMM input plus the largest weight matrix widened to f32 (the CPU threads
     * each widen their slice of it, at most 32 MiB each), and 64 threads' worth of 2*N*hs + 4*N
     * floats for attention. The CPU backend's actual attention scratch (an N x N score matrix per
     * thread) can exceed this allowance by up to ~0.2 GiB at 64 threads; RESERVE_FIXED covers
     * that. */
    const size_t BN = (size_t)B * N, K = 3 * P * P;
    size_t kmax = C > Hl ? C : Hl, act_bytes[ACT_COUNT];
    kmax = kmax > K ? kmax : K;
    const size_t wmax = 3 * Cl > F * Hl ? 3 * Cl : F * Hl;   /* most rows of a [rows, C] weight */
    out->activation_bytes_rank =
        activations_bytes(a, s.NHl, s.Hl, B, (int)N, (int)(g * g), WS_DTYPE_F32, WS_DTYPE_F32, act_bytes)
        + ((1 + g * g) * C                                    /* position table */
           + (size_t)B * 3 * (size_t)res * (size_t)res          /* input images (floats; >= two uint8 slots) */
           + (dt == WS_DTYPE_BF16 ? BN * kmax + C * wmax : 0)   /* bf16 GEMM scratch */
           + 64 * (2 * N * hs + 4 * N)) * act;                  /* attention scratch */

    if (tp > 1) {
        out->allreduces_batch = (int)(2 * L);
        out->allreduce_bytes_block = 2 * BN * C * act;
        out->allreduce_bytes_image = (double)L * 2.0 * (double)N * (double)C * (double)act;
    }
    return WS_OK;
}

double cost_allreduce_seconds(const ws_hardware *hw, int tp, double bytes) {
    if (tp <= 1) return 0.0;
    int cross = tp > hw->devices_per_node;
    double bw = (cross ? hw->inter_bw : hw->intra_bw) * hw->link_efficiency;
    double lat = cross ? hw->inter_latency : hw->intra_latency;
    /* Ring all-reduce: each device sends and receives 2 (tp-1)/tp of the buffer. */
    return lat + 2.0 * (tp - 1) / tp * bytes / bw;
}

void cost_throughput(const ws_cost *c, const ws_hardware *hw, ws_throughput *out) {
    double peak = c->dtype == WS_DTYPE_F32 ? hw->peak_flops_fp32 : hw->peak_flops_bf16;
    out->compute_s = c->flops_image_rank * c->B / (peak * hw->efficiency);
    out->weights_s = (double)c->weight_bytes_rank / hw->mem_bw;
    out->comm_s = c->allreduces_batch *
                  cost_allreduce_seconds(hw, c->tp, (double)c->allreduce_bytes_block / 2.0);
    double work = out->compute_s > out->weights_s ? out->compute_s : out->weights_s;
    out->batch_s = work + out->comm_s;
    out->images_per_s_group = c->B / out->batch_s;
    out->images_per_s_device = out->images_per_s_group / c->tp;
    out->gpu_hours_per_billion = 1e9 / out->images_per_s_device / 3600.0;
    out->comm_share = out->comm_s / out->batch_s;
}

double cost_rank_bytes(const ws_cost *c) {
    double need = (double)c->weight_bytes_rank + (double)c->activation_bytes_rank;
    return need * (1.0 + RESERVE_FRACTION) + RESERVE_FIXED;
}

/* "12.04 GiB" or "3.1 MiB": bytes in the unit that keeps a figure readable. */
static const char *fmt_bytes(double b, char *buf, size_t len) {
    if (b >= GIB) snprintf(buf, len, "%.2f GiB", b / GIB);
    else snprintf(buf, len, "%.1f MiB", b / (1024.0 * 1024.0));
    return buf;
}

int cost_pick_tp(const ws_arch *a, int res, int B, ws_dtype dt, int world_size, double memory_bytes,
                 char *why, size_t why_len) {
    double need_tp1 = 0.0, need_last = 0.0;
    int last = 0;
    for (int tp = 1; tp <= world_size && tp <= a->num_heads; tp++) {
        if (world_size % tp) continue;
        ws_cost c;
        int rc = cost_compute(a, res, B, tp, dt, &c);
        if (rc < 0) return rc;
        double need = cost_rank_bytes(&c);
        if (tp == 1) need_tp1 = need;
        need_last = need; last = tp;
        if (need <= memory_bytes) {
            char w[32], act[32], n[32], m[32], n1[32];
            int len = snprintf(why, why_len,
                               "tp %d: %s weights + %s activations (batch %d, %s) per rank, %s with reserve, "
                               "fit in %s", tp, fmt_bytes((double)c.weight_bytes_rank, w, sizeof w),
                               fmt_bytes((double)c.activation_bytes_rank, act, sizeof act), B, ws_dtype_name(dt),
                               fmt_bytes(need, n, sizeof n), fmt_bytes(memory_bytes, m, sizeof m));
            if (tp > 1 && len > 0 && (size_t)len < why_len)
                snprintf(why + len, why_len - (size_t)len, "; tp 1 would need %s", fmt_bytes(need_tp1, n1, sizeof n1));
            return tp;
        }
    }
    char m[32], n[32];
    return ws_errorf(WS_ERR_ARG,
                     "--tp auto: %s (batch %d, %s) does not fit in %s per rank with any tp dividing the %d ranks; "
                     "tp %d needs %s (use more ranks, a smaller --batch%s)",
                     a->name, B, ws_dtype_name(dt), fmt_bytes(memory_bytes, m, sizeof m), world_size, last,
                     fmt_bytes(need_last, n, sizeof n), dt == WS_DTYPE_F32 ? ", or bf16" : "");
}
