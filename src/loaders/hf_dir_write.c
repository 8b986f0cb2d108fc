/* config.json and preprocessor_config.json of a HuggingFace model directory (see hf_dir_write.h);
 * hf_dir.c reads them back. */
#include "loaders/hf_dir_write.h"
#include "common/error.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *torch_dtype_name(ws_dtype dt) {
    return dt == WS_DTYPE_BF16 ? "bfloat16" : dt == WS_DTYPE_F16 ? "float16" : "float32";
}

static int write_json(const char *dir, const char *file, cJSON *obj) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    char *s = obj ? cJSON_Print(obj) : NULL;
    cJSON_Delete(obj);
    if (!s) return ws_errorf(WS_ERR_NOMEM, "%s: out of memory", path);
    FILE *f = fopen(path, "w");
    int ok = f && fputs(s, f) >= 0 && fputc('\n', f) != EOF;
    if (f) ok &= fclose(f) == 0;
    free(s);
    return ok ? WS_OK : ws_errorf(WS_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
}

/* A float as the shortest decimal that reads back as it (1e-6f is written 1e-06, not 9.99999997e-07). */
static double float_decimal(float v) {
    char s[32];
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(s, sizeof s, "%.*g", digits, v);
        if (strtof(s, NULL) == v) break;
    }
    return strtod(s, NULL);
}

static cJSON *float_array(const float *v, int n) {
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; arr && i < n; i++) cJSON_AddItemToArray(arr, cJSON_CreateNumber(float_decimal(v[i])));
    return arr;
}

int hf_dir_write_config(const char *dir, const ws_arch *a, ws_dtype dt) {
    cJSON *c = cJSON_CreateObject();
    int dino = a->family == WS_FAMILY_DINO;
    cJSON_AddItemToObject(c, "architectures", cJSON_CreateStringArray((const char *[]){dino ? "Dinov2Model" : "ViTModel"}, 1));
    cJSON_AddStringToObject(c, "model_type", dino ? "dinov2" : "vit");
    cJSON_AddNumberToObject(c, "hidden_size", a->embed_dim);
    cJSON_AddNumberToObject(c, "num_hidden_layers", a->depth);
    cJSON_AddNumberToObject(c, "num_attention_heads", a->num_heads);
    cJSON_AddStringToObject(c, "hidden_act", "gelu");
    cJSON_AddNumberToObject(c, "layer_norm_eps", float_decimal(a->norm_eps));
    cJSON_AddNumberToObject(c, "image_size", a->img_size);
    cJSON_AddNumberToObject(c, "patch_size", a->patch_size);
    cJSON_AddNumberToObject(c, "num_channels", 3);
    cJSON_AddBoolToObject(c, "qkv_bias", a->qkv_bias);
    cJSON_AddNumberToObject(c, "hidden_dropout_prob", 0);
    cJSON_AddNumberToObject(c, "attention_probs_dropout_prob", 0);
    cJSON_AddNumberToObject(c, "initializer_range", 0.02);
    cJSON_AddStringToObject(c, "torch_dtype", torch_dtype_name(dt));
    if (dino) {
        /* Dinov2 derives the FFN width from mlp_ratio: SwiGLU by the family rule, MLP as C * ratio. */
        double ratio = a->ffn == WS_FFN_SWIGLU ? 4.0 : (double)a->ffn_hidden / a->embed_dim;
        if (a->ffn == WS_FFN_SWIGLU && arch_default_ffn_hidden(WS_FAMILY_DINO, a->embed_dim, 4.0) != a->ffn_hidden) {
            cJSON_Delete(c);
            return ws_errorf(WS_ERR_UNSUPPORTED, "%s: SwiGLU hidden size %d is not the mlp_ratio 4 rule's; "
                             "transformers' Dinov2 cannot express it", a->name, a->ffn_hidden);
        }
        cJSON_AddNumberToObject(c, "mlp_ratio", ratio);
        cJSON_AddBoolToObject(c, "use_swiglu_ffn", a->ffn == WS_FFN_SWIGLU);
        cJSON_AddNumberToObject(c, "layerscale_value", 1.0);
        cJSON_AddNumberToObject(c, "drop_path_rate", 0);
    } else {
        cJSON_AddNumberToObject(c, "intermediate_size", a->ffn_hidden);
        cJSON_AddNumberToObject(c, "encoder_stride", a->patch_size);
    }
    return write_json(dir, "config.json", c);
}

int hf_dir_write_preprocessor(const char *dir, const ws_arch *a) {
    const ws_preprocess *p = &a->preprocess;
    cJSON *c = cJSON_CreateObject(), *size = cJSON_CreateObject(), *crop = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "image_processor_type", "BitImageProcessor");
    cJSON_AddBoolToObject(c, "do_convert_rgb", 1);
    cJSON_AddBoolToObject(c, "do_resize", 1);
    cJSON_AddNumberToObject(c, "resample", 3);   /* PIL bicubic */
    if (p->mode == WS_PREPROCESS_CROP) {
        cJSON_AddNumberToObject(size, "shortest_edge", p->resize);
    } else {
        cJSON_AddNumberToObject(size, "height", p->crop);
        cJSON_AddNumberToObject(size, "width", p->crop);
    }
    cJSON_AddItemToObject(c, "size", size);
    cJSON_AddBoolToObject(c, "do_center_crop", p->mode == WS_PREPROCESS_CROP);
    cJSON_AddNumberToObject(crop, "height", p->crop);
    cJSON_AddNumberToObject(crop, "width", p->crop);
    cJSON_AddItemToObject(c, "crop_size", crop);
    cJSON_AddBoolToObject(c, "do_rescale", 1);
    cJSON_AddNumberToObject(c, "rescale_factor", 1.0 / 255.0);
    cJSON_AddBoolToObject(c, "do_normalize", 1);
    cJSON_AddItemToObject(c, "image_mean", float_array(p->mean, 3));
    cJSON_AddItemToObject(c, "image_std", float_array(p->std, 3));
    return write_json(dir, "preprocessor_config.json", c);
}
