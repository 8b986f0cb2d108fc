/* Architecture descriptions: the built-in table of every published Web-SSL model plus tiny test
 * shapes, YAML architecture files (the configs directory, format in docs/formats.md), and the derived
 * quantities (FFN hidden size, token count, parameter count). Any consistent ViT shape is
 * accepted, not only the published ones. */
#ifndef WEBSSL_COMMON_ARCH_H
#define WEBSSL_COMMON_ARCH_H

#include <stddef.h>
#include <stdint.h>

#define WS_NAME_MAX 128
/* Largest output side (crop, image size) and resize target the image pipeline accepts. */
#define WS_MAX_RESOLUTION 8192
#define WS_MAX_RESIZE 65536

typedef enum { WS_FAMILY_DINO = 0, WS_FAMILY_MAE } ws_family;
typedef enum { WS_FFN_SWIGLU = 0, WS_FFN_MLP } ws_ffn;
typedef enum { WS_PREPROCESS_CROP = 0, WS_PREPROCESS_SQUARE } ws_preprocess_mode;

typedef struct {
    ws_preprocess_mode mode;
    int resize;      /* crop: shorter side resized to this; square: unused (resize to crop x crop) */
    int crop;        /* output side length R */
    float mean[3];
    float std[3];
} ws_preprocess;

typedef struct {
    char name[WS_NAME_MAX];
    ws_family family;
    int patch_size;        /* P */
    int img_size;          /* native resolution; position embeddings stored at img_size/P */
    int embed_dim;         /* C */
    int depth;             /* L */
    int num_heads;         /* NH; head size hs = C / NH */
    ws_ffn ffn;
    int ffn_hidden;        /* H; SwiGLU: w12 is [2H, C], w3 is [C, H]; MLP: fc1 [H, C], fc2 [C, H] */
    int layerscale;        /* 1: ls1/ls2 gamma vectors on both residual branches */
    int qkv_bias, proj_bias, ffn_bias;
    float norm_eps;
    int num_register_tokens;
    ws_preprocess preprocess;
} ws_arch;

/* Built-in table (published models first, then tiny test shapes). */
size_t arch_builtin_count(void);
const ws_arch *arch_builtin_at(size_t i);
/* Find by exact name (aliases such as "-384" -> "-378" resolve with a warning); NULL if unknown. */
const ws_arch *arch_builtin_find(const char *name);

/* Fill `out` from a YAML architecture file. Absent optional fields take the family's defaults.
 * Returns WS_OK or an error naming the file and the field. */
int arch_load_yaml(const char *path, ws_arch *out);
/* Name of a built-in architecture or path to a YAML file. */
int arch_resolve(const char *name_or_file, ws_arch *out);
/* Check internal consistency (C divisible by NH, img_size divisible by P, positive sizes...). */
int arch_validate(const ws_arch *a);
/* Write `a` as a YAML architecture file. */
int arch_write_yaml(const ws_arch *a, const char *path);

/* The family's default FFN hidden size for embed_dim C and mlp_ratio r:
 * SwiGLU: (int(int(r*C) * 2/3) + 7) / 8 * 8;  MLP: r*C. */
int arch_default_ffn_hidden(ws_family family, int embed_dim, double mlp_ratio);
/* Default preprocessing for native resolution R: shorter side to R*256/224 (bicubic), center
 * crop R, ImageNet mean/std. */
ws_preprocess arch_default_preprocess(int img_size);
/* Patch tokens per side and total tokens (1 CLS + registers + grid^2) at resolution `res`. */
int arch_grid(const ws_arch *a, int res);
int arch_tokens(const ws_arch *a, int res);
/* Backbone parameter count computed from the shapes (position embeddings at the native grid,
 * mask token included for DINO as in the released checkpoints). */
int64_t arch_param_count(const ws_arch *a);
/* Forward FLOPs per image at resolution `res` (2 per multiply-add; GEMMs and attention). */
double arch_flops_per_image(const ws_arch *a, int res);

const char *arch_family_name(ws_family f);
const char *arch_ffn_name(ws_ffn f);

#endif
