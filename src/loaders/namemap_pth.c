/* Name tables of the original PyTorch checkpoints: DINOv2-style Web-DINO (packed qkv, LayerScale
 * ls1/ls2, SwiGLU w12/w3), with blocks flat ("blocks.{i}.") or in BlockChunks
 * ("blocks.{chunk}.{i}.", global index kept; 4 chunks, 5 for 26-deep models), and timm's
 * VisionTransformer for Web-MAE. Prefixes from DDP ("module.") and SSL wrappers ("backbone.") are
 * stripped; the DINO / iBOT heads of teacher checkpoints are not part of the backbone (model/head.h
 * reads the DINO head). See namemap.h for the pattern syntax. */
#include "loaders/namemap.h"

/* Every per-block entry twice: flat and chunked. */
#define BLOCK(suffix, field, g0, ng) \
    {"blocks.{i}." suffix, field, g0, ng, 0}, {"blocks.{c}.{i}." suffix, field, g0, ng, 0}

static const ws_name_entry dino_entries[] = {
    {"patch_embed.proj.weight", WS_W_PATCH_W, 0, 0, 0},
    {"patch_embed.proj.bias", WS_W_PATCH_B, 0, 0, 0},
    {"cls_token", WS_W_CLS, 0, 0, 2},
    {"register_tokens", WS_W_REG, 0, 0, 1},
    {"pos_embed", WS_W_POS, 0, 0, 1},
    BLOCK("norm1.weight", WS_W_LN1_W, 0, 0),
    BLOCK("norm1.bias", WS_W_LN1_B, 0, 0),
    BLOCK("attn.qkv.weight", WS_W_QKV_W, 0, 0),
    BLOCK("attn.qkv.bias", WS_W_QKV_B, 0, 0),
    BLOCK("attn.proj.weight", WS_W_PROJ_W, 0, 0),
    BLOCK("attn.proj.bias", WS_W_PROJ_B, 0, 0),
    BLOCK("ls1.gamma", WS_W_LS1, 0, 0),
    BLOCK("norm2.weight", WS_W_LN2_W, 0, 0),
    BLOCK("norm2.bias", WS_W_LN2_B, 0, 0),
    BLOCK("mlp.w12.weight", WS_W_FC1_W, 0, 0),
    BLOCK("mlp.w12.bias", WS_W_FC1_B, 0, 0),
    BLOCK("mlp.w3.weight", WS_W_FC2_W, 0, 0),
    BLOCK("mlp.w3.bias", WS_W_FC2_B, 0, 0),
    /* DINOv2 models built with ffn_layer "mlp" */
    BLOCK("mlp.fc1.weight", WS_W_FC1_W, 0, 0),
    BLOCK("mlp.fc1.bias", WS_W_FC1_B, 0, 0),
    BLOCK("mlp.fc2.weight", WS_W_FC2_W, 0, 0),
    BLOCK("mlp.fc2.bias", WS_W_FC2_B, 0, 0),
    BLOCK("ls2.gamma", WS_W_LS2, 0, 0),
    {"norm.weight", WS_W_LNF_W, 0, 0, 0},
    {"norm.bias", WS_W_LNF_B, 0, 0, 0},
};

/* mask_token only serves masked training; the heads are read separately (model/head.h). */
static const char *const dino_ignore[] = {"mask_token", "dino_head.*", "ibot_head.*", NULL};
static const char *const pth_prefixes[] = {"module.backbone.", "backbone.", "module.", NULL};

const ws_name_layout namemap_pth_dino = {
    .name = "pth-dinov2",
    .family = WS_FAMILY_DINO,
    .entries = dino_entries,
    .num_entries = sizeof dino_entries / sizeof dino_entries[0],
    .ignore = dino_ignore,
    .prefixes = pth_prefixes,
};

static const ws_name_entry timm_entries[] = {
    {"patch_embed.proj.weight", WS_W_PATCH_W, 0, 0, 0},
    {"patch_embed.proj.bias", WS_W_PATCH_B, 0, 0, 0},
    {"cls_token", WS_W_CLS, 0, 0, 2},
    {"pos_embed", WS_W_POS, 0, 0, 1},
    {"blocks.{i}.norm1.weight", WS_W_LN1_W, 0, 0, 0},
    {"blocks.{i}.norm1.bias", WS_W_LN1_B, 0, 0, 0},
    {"blocks.{i}.attn.qkv.weight", WS_W_QKV_W, 0, 0, 0},
    {"blocks.{i}.attn.qkv.bias", WS_W_QKV_B, 0, 0, 0},
    {"blocks.{i}.attn.proj.weight", WS_W_PROJ_W, 0, 0, 0},
    {"blocks.{i}.attn.proj.bias", WS_W_PROJ_B, 0, 0, 0},
    {"blocks.{i}.norm2.weight", WS_W_LN2_W, 0, 0, 0},
    {"blocks.{i}.norm2.bias", WS_W_LN2_B, 0, 0, 0},
    {"blocks.{i}.mlp.fc1.weight", WS_W_FC1_W, 0, 0, 0},
    {"blocks.{i}.mlp.fc1.bias", WS_W_FC1_B, 0, 0, 0},
    {"blocks.{i}.mlp.fc2.weight", WS_W_FC2_W, 0, 0, 0},
    {"blocks.{i}.mlp.fc2.bias", WS_W_FC2_B, 0, 0, 0},
    {"norm.weight", WS_W_LNF_W, 0, 0, 0},
    {"norm.bias", WS_W_LNF_B, 0, 0, 0},
};

/* A full MAE pre-training checkpoint also holds the decoder and the mask token. */
static const char *const timm_ignore[] = {"mask_token", "decoder_*", NULL};

const ws_name_layout namemap_pth_timm = {
    .name = "pth-timm",
    .family = WS_FAMILY_MAE,
    .entries = timm_entries,
    .num_entries = sizeof timm_entries / sizeof timm_entries[0],
    .ignore = timm_ignore,
    .prefixes = pth_prefixes,
};
