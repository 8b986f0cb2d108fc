/* Built-in architecture table and derived quantities (see arch.h). */
#include "common/arch.h"
#include "common/error.h"
#include "common/log.h"

#include <stdio.h>
#include <string.h>

#define IMAGENET_PREPROCESS(res) \
    {WS_PREPROCESS_CROP, (res) * 256 / 224, (res), {0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}}

#define DINO(nm, C, L, NH, H, res)                                                              \
    {.name = nm, .family = WS_FAMILY_DINO, .patch_size = 14, .img_size = res, .embed_dim = C,  \
     .depth = L, .num_heads = NH, .ffn = WS_FFN_SWIGLU, .ffn_hidden = H, .layerscale = 1,      \
     .qkv_bias = 1, .proj_bias = 1, .ffn_bias = 1, .norm_eps = 1e-6f,                           \
     .num_register_tokens = 0, .preprocess = IMAGENET_PREPROCESS(res)}

#define MAE(nm, P, C, L, NH)                                                                    \
    {.name = nm, .family = WS_FAMILY_MAE, .patch_size = P, .img_size = 224, .embed_dim = C,    \
     .depth = L, .num_heads = NH, .ffn = WS_FFN_MLP, .ffn_hidden = 4 * (C), .layerscale = 0,   \
     .qkv_bias = 1, .proj_bias = 1, .ffn_bias = 1, .norm_eps = 1e-6f,                           \
     .num_register_tokens = 0, .preprocess = IMAGENET_PREPROCESS(224)}

static const ws_arch builtin[] = {
    DINO("webssl-dino300m-full2b-224", 1024, 24, 16, 2736, 224),
    DINO("webssl-dino1b-full2b-224", 1536, 40, 24, 4096, 224),
    DINO("webssl-dino2b-full2b-224", 2688, 24, 21, 7168, 224),
    DINO("webssl-dino2b-light2b-224", 2688, 24, 21, 7168, 224),
    DINO("webssl-dino2b-heavy2b-224", 2688, 24, 21, 7168, 224),
    DINO("webssl-dino3b-full2b-224", 3072, 26, 24, 8192, 224),
    DINO("webssl-dino3b-light2b-224", 3072, 26, 24, 8192, 224),
    DINO("webssl-dino3b-heavy2b-224", 3072, 26, 24, 8192, 224),
    DINO("webssl-dino5b-full2b-224", 3584, 32, 28, 9560, 224),
    DINO("webssl-dino7b-full8b-224", 4096, 32, 32, 10928, 224),
    DINO("webssl-dino7b-full8b-378", 4096, 32, 32, 10928, 378),
    DINO("webssl-dino7b-full8b-518", 4096, 32, 32, 10928, 518),
    DINO("webssl-dino1b-in1k-224", 1536, 40, 24, 4096, 224),
    DINO("webssl-dino2b-in1k-224", 2688, 24, 21, 7168, 224),
    DINO("webssl-dino3b-in1k-224", 3072, 26, 24, 8192, 224),
    MAE("webssl-mae300m-full2b-224", 16, 1024, 24, 16),
    MAE("webssl-mae700m-full2b-224", 14, 1280, 32, 16),
    MAE("webssl-mae1b-full2b-224", 14, 1536, 40, 24),
    MAE("webssl-mae2b-full2b-224", 14, 2688, 24, 21),
    MAE("webssl-mae3b-full2b-224", 14, 3072, 26, 24),
    MAE("webssl-mae7b-full2b-224", 14, 4096, 32, 32),
    /* tiny test shapes: uneven heads, both families, both patch sizes */
    DINO("tiny-dino", 48, 2, 3, 128, 56),
    MAE("tiny-mae", 16, 48, 2, 3),
};
static const size_t num_builtin = sizeof builtin / sizeof builtin[0];

size_t arch_builtin_count(void) { return num_builtin; }

const ws_arch *arch_builtin_at(size_t i) { return i < num_builtin ? &builtin[i] : NULL; }

const ws_arch *arch_builtin_find(const char *name) {
    for (size_t i = 0; i < num_builtin; i++)
        if (!strcmp(builtin[i].name, name)) return &builtin[i];
    /* The seed README names a -384 7B model; its real resolution is 378 (27 x 14). */
    size_t n = strlen(name);
    if (n > 4 && !strcmp(name + n - 4, "-384") && n < WS_NAME_MAX) {
        char alias[WS_NAME_MAX];
        snprintf(alias, sizeof alias, "%.*s-378", (int)(n - 4), name);
        for (size_t i = 0; i < num_builtin; i++)
            if (!strcmp(builtin[i].name, alias)) {
                LOG_WARN("architecture '%s' resolves to '%s' (the model's real resolution is 378)", name, alias);
                return &builtin[i];
            }
    }
    return NULL;
}

int arch_default_ffn_hidden(ws_family family, int embed_dim, double mlp_ratio) {
    int hidden = (int)(mlp_ratio * embed_dim);
    if (family == WS_FAMILY_MAE) return hidden;
    return ((int)(hidden * 2.0 / 3.0) + 7) / 8 * 8;
}

ws_preprocess arch_default_preprocess(int img_size) {
    return (ws_preprocess)IMAGENET_PREPROCESS(img_size);
}

int arch_grid(const ws_arch *a, int res) { return res / a->patch_size; }

int arch_tokens(const ws_arch *a, int res) {
    int g = arch_grid(a, res);
    return 1 + a->num_register_tokens + g * g;
}

int64_t arch_param_count(const ws_arch *a) {
    const int64_t C = a->embed_dim, H = a->ffn_hidden, P = a->patch_size;
    const int64_t G = a->img_size / a->patch_size;
    int64_t embed = C * 3 * P * P + C        /* patch projection */
                  + C                        /* cls token */
                  + (1 + G * G) * C          /* position embeddings */
                  + (int64_t)a->num_register_tokens * C;
    if (a->family == WS_FAMILY_DINO) embed += C;   /* mask token, kept in released checkpoints */
    int64_t block = 2 * C                                  /* norm1 */
                  + 3 * C * C + (a->qkv_bias ? 3 * C : 0)  /* qkv */
                  + C * C + (a->proj_bias ? C : 0)         /* proj */
                  + 2 * C;                                 /* norm2 */
    if (a->ffn == WS_FFN_SWIGLU)
        block += 2 * H * C + (a->ffn_bias ? 2 * H : 0) + C * H + (a->ffn_bias ? C : 0);
    else
        block += H * C + (a->ffn_bias ? H : 0) + C * H + (a->ffn_bias ? C : 0);
    if (a->layerscale) block += 2 * C;
    return embed + a->depth * block + 2 * C;               /* final norm */
}

double arch_flops_per_image(const ws_arch *a, int res) {
    const double C = a->embed_dim, H = a->ffn_hidden, N = arch_tokens(a, res);
    const double g = arch_grid(a, res), P = a->patch_size;
    double ffn_in = a->ffn == WS_FFN_SWIGLU ? 2 * H : H;
    double per_block = 2 * N * C * (3 * C + C + ffn_in + H)  /* qkv, proj, ffn GEMMs */
                     + 4 * N * N * C;                        /* QK^T and PV */
    return 2 * g * g * C * 3 * P * P + a->depth * per_block;
}

const char *arch_family_name(ws_family f) { return f == WS_FAMILY_DINO ? "dino" : "mae"; }

const char *arch_ffn_name(ws_ffn f) { return f == WS_FFN_SWIGLU ? "swiglu" : "mlp"; }

int arch_validate(const ws_arch *a) {
    const char *n = a->name[0] ? a->name : "(unnamed)";
    if (a->embed_dim <= 0 || a->depth <= 0 || a->num_heads <= 0 || a->patch_size <= 0 ||
        a->img_size <= 0 || a->ffn_hidden <= 0)
        return ws_errorf(WS_ERR_ARG, "architecture %s: sizes must be positive", n);
    if (a->embed_dim % a->num_heads)
        return ws_errorf(WS_ERR_ARG, "architecture %s: embed_dim %d is not divisible by num_heads %d",
                         n, a->embed_dim, a->num_heads);
    if (a->img_size % a->patch_size)
        return ws_errorf(WS_ERR_ARG, "architecture %s: img_size %d is not a multiple of patch_size %d",
                         n, a->img_size, a->patch_size);
    if (a->num_register_tokens < 0 || !(a->norm_eps > 0))
        return ws_errorf(WS_ERR_ARG, "architecture %s: bad num_register_tokens or norm_eps", n);
    if (a->preprocess.crop <= 0 || (a->preprocess.mode == WS_PREPROCESS_CROP && a->preprocess.resize < a->preprocess.crop))
        return ws_errorf(WS_ERR_ARG, "architecture %s: bad preprocess sizes (resize %d, crop %d)", n,
                         a->preprocess.resize, a->preprocess.crop);
    return WS_OK;
}
