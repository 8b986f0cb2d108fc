/* Name tables of HuggingFace transformers checkpoints: Dinov2Model (Web-DINO, SwiGLU +
 * LayerScale) and ViTModel (Web-MAE). See namemap.h for the pattern syntax. */
#include "loaders/namemap.h"

#define LAYER "encoder.layer.{i}."

static const ws_name_entry dinov2_entries[] = {
    {"embeddings.patch_embeddings.projection.weight", WS_W_PATCH_W, 0, 0, 0},
    {"embeddings.patch_embeddings.projection.bias", WS_W_PATCH_B, 0, 0, 0},
    {"embeddings.cls_token", WS_W_CLS, 0, 0, 2},
    {"embeddings.register_tokens", WS_W_REG, 0, 0, 1},
    {"embeddings.position_embeddings", WS_W_POS, 0, 0, 1},
    {LAYER "norm1.weight", WS_W_LN1_W, 0, 0, 0},
    {LAYER "norm1.bias", WS_W_LN1_B, 0, 0, 0},
    {LAYER "attention.attention.query.weight", WS_W_QKV_W, 0, 1, 0},
    {LAYER "attention.attention.key.weight", WS_W_QKV_W, 1, 1, 0},
    {LAYER "attention.attention.value.weight", WS_W_QKV_W, 2, 1, 0},
    {LAYER "attention.attention.query.bias", WS_W_QKV_B, 0, 1, 0},
    {LAYER "attention.attention.key.bias", WS_W_QKV_B, 1, 1, 0},
    {LAYER "attention.attention.value.bias", WS_W_QKV_B, 2, 1, 0},
    {LAYER "attention.output.dense.weight", WS_W_PROJ_W, 0, 0, 0},
    {LAYER "attention.output.dense.bias", WS_W_PROJ_B, 0, 0, 0},
    {LAYER "layer_scale1.lambda1", WS_W_LS1, 0, 0, 0},
    {LAYER "norm2.weight", WS_W_LN2_W, 0, 0, 0},
    {LAYER "norm2.bias", WS_W_LN2_B, 0, 0, 0},
    {LAYER "mlp.weights_in.weight", WS_W_FC1_W, 0, 0, 0},
    {LAYER "mlp.weights_in.bias", WS_W_FC1_B, 0, 0, 0},
    {LAYER "mlp.weights_out.weight", WS_W_FC2_W, 0, 0, 0},
    {LAYER "mlp.weights_out.bias", WS_W_FC2_B, 0, 0, 0},
    /* Dinov2 without SwiGLU (use_swiglu_ffn false) names its MLP fc1/fc2. */
    {LAYER "mlp.fc1.weight", WS_W_FC1_W, 0, 0, 0},
    {LAYER "mlp.fc1.bias", WS_W_FC1_B, 0, 0, 0},
    {LAYER "mlp.fc2.weight", WS_W_FC2_W, 0, 0, 0},
    {LAYER "mlp.fc2.bias", WS_W_FC2_B, 0, 0, 0},
    {LAYER "layer_scale2.lambda1", WS_W_LS2, 0, 0, 0},
    {"layernorm.weight", WS_W_LNF_W, 0, 0, 0},
    {"layernorm.bias", WS_W_LNF_B, 0, 0, 0},
};

/* mask_token is only used for masked training. */
static const char *const dinov2_ignore[] = {"embeddings.mask_token", NULL};
static const char *const hf_prefixes[] = {"dinov2.", "vit.", NULL};

const ws_name_layout namemap_hf_dinov2 = {
    .name = "hf-dinov2",
    .family = WS_FAMILY_DINO,
    .entries = dinov2_entries,
    .num_entries = sizeof dinov2_entries / sizeof dinov2_entries[0],
    .ignore = dinov2_ignore,
    .prefixes = hf_prefixes,
};

static const ws_name_entry vit_entries[] = {
    {"embeddings.patch_embeddings.projection.weight", WS_W_PATCH_W, 0, 0, 0},
    {"embeddings.patch_embeddings.projection.bias", WS_W_PATCH_B, 0, 0, 0},
    {"embeddings.cls_token", WS_W_CLS, 0, 0, 2},
    {"embeddings.position_embeddings", WS_W_POS, 0, 0, 1},
    {LAYER "layernorm_before.weight", WS_W_LN1_W, 0, 0, 0},
    {LAYER "layernorm_before.bias", WS_W_LN1_B, 0, 0, 0},
    {LAYER "attention.attention.query.weight", WS_W_QKV_W, 0, 1, 0},
    {LAYER "attention.attention.key.weight", WS_W_QKV_W, 1, 1, 0},
    {LAYER "attention.attention.value.weight", WS_W_QKV_W, 2, 1, 0},
    {LAYER "attention.attention.query.bias", WS_W_QKV_B, 0, 1, 0},
    {LAYER "attention.attention.key.bias", WS_W_QKV_B, 1, 1, 0},
    {LAYER "attention.attention.value.bias", WS_W_QKV_B, 2, 1, 0},
    {LAYER "attention.output.dense.weight", WS_W_PROJ_W, 0, 0, 0},
    {LAYER "attention.output.dense.bias", WS_W_PROJ_B, 0, 0, 0},
    {LAYER "layernorm_after.weight", WS_W_LN2_W, 0, 0, 0},
    {LAYER "layernorm_after.bias", WS_W_LN2_B, 0, 0, 0},
    {LAYER "intermediate.dense.weight", WS_W_FC1_W, 0, 0, 0},
    {LAYER "intermediate.dense.bias", WS_W_FC1_B, 0, 0, 0},
    {LAYER "output.dense.weight", WS_W_FC2_W, 0, 0, 0},
    {LAYER "output.dense.bias", WS_W_FC2_B, 0, 0, 0},
    {"layernorm.weight", WS_W_LNF_W, 0, 0, 0},
    {"layernorm.bias", WS_W_LNF_B, 0, 0, 0},
};

/* ViTModel's pooler (dense + tanh on CLS) is not part of the MAE backbone and is untrained in the
 * converted checkpoints; the features are taken before it. */
static const char *const vit_ignore[] = {"pooler.dense.weight", "pooler.dense.bias",
                                         "embeddings.mask_token", NULL};

const ws_name_layout namemap_hf_vit = {
    .name = "hf-vit",
    .family = WS_FAMILY_MAE,
    .entries = vit_entries,
    .num_entries = sizeof vit_entries / sizeof vit_entries[0],
    .ignore = vit_ignore,
    .prefixes = hf_prefixes,
};
