/* webssl public API: load a Web-SSL vision transformer (Web-DINO or Web-MAE) for one tensor-
 * parallel rank, run it on batches of normalised images, free it. Everything the embed driver and
 * the benchmark need; the layers below (weights, backends, loaders) are internal.
 *
 * Contracts
 *   - Input pixels: float32 [B, 3, R, R], already resized, cropped and normalised with the
 *     architecture's mean/std, host memory. R is any positive multiple of the patch size; at a
 *     resolution other than the native one the position embeddings are interpolated with the
 *     rule chosen in the options (computed once per resolution and cached).
 *   - Outputs (host memory, float32): cls [B, C] = CLS token after the final LayerNorm;
 *     patch_mean [B, C] = mean of the patch tokens (registers excluded) after the final
 *     LayerNorm; patch [B, g*g, C] (g = R/P) = the patch tokens, only when the pointer is set.
 *   - Tensor parallelism: with tp_size > 1 every rank of the group loads the same checkpoint
 *     with its own tp_rank and the group's communicator, calls ws_model_forward() with the same
 *     pixels, and gets the same (full) outputs. The communicator must stay valid until
 *     ws_model_free(); with comm NULL (tp_size 1 only) the model makes a one-rank communicator.
 *   - Errors: functions return WS_OK or a negative ws_err (common/error.h) with a message from
 *     ws_error_message() naming the input; a bad input never exits the process. Only a broken
 *     invariant or a failed device, MPI or NCCL call that leaves no state to continue
 *     (common/check.h: WS_ASSERT, MPI_CHECK, CUDA_CHECK, ...) stops it, through ws_fatal.
 *   - A model is used by one thread at a time (it owns its activation buffers). */
#ifndef WEBSSL_WEBSSL_H
#define WEBSSL_WEBSSL_H

#include <stddef.h>
#include <stdint.h>

#include "comm/comm.h"
#include "common/dtype.h"
#include "common/error.h"
#include "common/arch.h"

typedef struct ws_model ws_model;

/* How position embeddings are resized for a resolution other than the native one (the first two
 * are bicubic with A = -0.75, align_corners=False, no antialiasing, clamped borders):
 *   WS_POSEMBED_HF:       transformers >= 4.45 Dinov2/ViT interpolate_pos_encoding: output size
 *                         (g_new, g_new), source coordinate (dst + 0.5) * g_old / g_new - 0.5.
 *   WS_POSEMBED_ORIGINAL: the original DINOv2/Web-SSL code: scale factor (g_new + 0.1) / g_old,
 *                         source coordinate (dst + 0.5) * g_old / (g_new + 0.1) - 0.5.
 *   WS_POSEMBED_HF_ANTIALIAS: transformers' Dinov2WithRegisters: output size (g_new, g_new) with
 *                         antialias=True (bicubic A = -0.5, taps renormalised at the borders). */
typedef enum { WS_POSEMBED_HF = 0, WS_POSEMBED_ORIGINAL, WS_POSEMBED_HF_ANTIALIAS } ws_posembed_rule;

typedef struct {
    const char *arch;            /* architecture name or YAML file overriding the checkpoint's; NULL */
    const char *device;          /* "cpu" (default) or "cuda" */
    int device_index;            /* CUDA device ordinal */
    int threads;                 /* CPU threads; 0 = OpenMP default */
    ws_dtype compute;            /* WS_DTYPE_F32 (default) or WS_DTYPE_BF16 */
    ws_dtype allreduce;          /* the TP all-reduces' dtype, that of the row-parallel outputs
                                  * (attn.proj, w3/fc2): WS_DTYPE_F32 (default) or WS_DTYPE_BF16
                                  * (half the traffic; summed in f32 and rounded per rank) */
    ws_posembed_rule posembed;   /* default WS_POSEMBED_HF */
    int tp_rank, tp_size;        /* default 0, 1 */
    ws_comm *comm;               /* the TP group (size tp_size); NULL for tp_size 1 */
    struct ws_backend *backend;  /* run on this backend (made by backend_create for `device`; the
                                  * caller frees it after ws_model_free), e.g. the CUDA backend whose
                                  * stream a NCCL communicator uses; NULL: the model makes its own */
} ws_model_options;

/* Defaults as documented on each field. */
void ws_model_options_init(ws_model_options *o);

/* Load from an HF directory, a .safetensors file or a .pth (loaders/checkpoint.h). The
 * architecture comes from o->arch, else from the checkpoint's config, else from matching the
 * tensor shapes against the built-in table. Every tensor is checked by name, shape and dtype
 * (f32/f16/bf16), converted to the compute dtype and sliced for this TP rank. */
int ws_model_load(const char *path, const ws_model_options *o, ws_model **out);

/* The same from a checkpoint already open (loaders/checkpoint.h), e.g. one the caller also reads
 * the architecture or the DINO head from: a file is opened once per run. `c` stays the caller's. */
struct ws_ckpt;
int ws_model_load_ckpt(const struct ws_ckpt *c, const ws_model_options *o, ws_model **out);

/* A model of architecture `a` with deterministic pseudo-random weights derived from `seed`
 * (element values depend only on seed, tensor and global index, so TP ranks hold slices of the
 * same model). For benchmarks and tests. */
int ws_model_create_random(const ws_arch *a, uint64_t seed, const ws_model_options *o, ws_model **out);

/* The model's architecture. */
const ws_arch *ws_model_arch(const ws_model *m);
/* Bytes of this rank's weight allocation. */
size_t ws_model_weight_bytes(const ws_model *m);
/* How the model's GEMMs run, one line: the path (e.g. "gemm openblas f32", "gemm onednn bf16
 * native (...)") and, on CPU, the CPU features it relies on. Chosen at load; WEBSSL_GEMM forces
 * a CPU path (backend/cpu/gemm_path.c). */
const char *ws_model_gemm_info(const ws_model *m);

typedef struct {
    float *cls;          /* [B, C], required */
    float *patch_mean;   /* [B, C], or NULL */
    float *patch;        /* [B, g*g, C], or NULL */
} ws_features;

/* Run B images of resolution R. Returns WS_ERR_ARG (naming the value) for a bad B or R,
 * WS_ERR_NOMEM when activations cannot be allocated, WS_ERR_COMM from the all-reduce. */
int ws_model_forward(ws_model *m, const float *pixels, int B, int R, ws_features *out);

/* The forward pass in three steps, for callers that keep the device busy (driver/embed_loop.c,
 * driver/bench.c): batch i uses slot i % 2, and batch i+1 is uploaded and submitted before batch
 * i is collected, so the upload of i+1 overlaps pass i and pass i+1 runs while the host handles
 * the outputs of i. ws_model_forward is the three in a row on slot 0.
 *   ws_model_upload: hand B images of resolution R to input slot `slot` (0 or 1): either
 *     `pixels` [B,3,R,R] normalised floats, or `u8` [B,R,R,3] uint8 crops (as data/pipeline
 *     delivers them) that the backend normalises with mean[3] and std[3], bit-identical to the
 *     host's floats (common/pixel_norm.h). The copy waits on the device for the last forward
 *     pass that read the slot, and the call returns at once. The host buffer (pinned, from the
 *     backend's host_alloc, for the copy to be asynchronous) stays untouched until the
 *     ws_model_collect of the pass that reads it has returned.
 *   ws_model_submit: enqueue the forward pass on the images of `slot` (checked as in
 *     ws_model_forward) and the download of the outputs `out` asks for (its non-NULL fields);
 *     on a device backend it returns before they are computed. A slot holds one submitted pass
 *     at a time (WS_ERR_ARG otherwise); the two slots' passes run in submission order. On CUDA with a capturable
 *     communicator (one rank or NCCL) the pass runs as a CUDA graph captured once per batch
 *     size, resolution, slot, input kind and outputs (the second pass of a shape captures it).
 *   ws_model_collect: wait for the pass submitted on `slot` (not for a later one) and write its
 *     outputs into the `out` given to ws_model_submit. */
int ws_model_upload(ws_model *m, int slot, const float *pixels, const uint8_t *u8, const float mean[3],
                    const float std[3], int B, int R);
int ws_model_submit(ws_model *m, int slot, ws_features *out);
int ws_model_collect(ws_model *m, int slot);
/* 1 when the model's backend wants uint8 images for ws_model_upload (it normalises them itself:
 * CUDA), 0 when the host's floats are cheaper (CPU). */
int ws_model_input_u8(const ws_model *m);

void ws_model_free(ws_model *m);

/* Program version, "MAJOR.MINOR.PATCH". */
const char *ws_version(void);

#endif
