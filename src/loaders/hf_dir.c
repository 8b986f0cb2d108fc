/* HuggingFace model directories: config.json (model_type dinov2 or dinov2_with_registers with
 * SwiGLU, or vit for MAE) gives the architecture, preprocessor_config.json (when present) the
 * preprocessing, and the weights are the first present of model.safetensors, the shards named by
 * model.safetensors.index.json, pytorch_model.bin (torch.save, zip or legacy) and the shards named
 * by pytorch_model.bin.index.json. Absent config keys take the transformers class defaults, except
 * layer_norm_eps (1e-6, with a warning). A hub cache folder (models--org--name, holding refs/ and
 * snapshots/) stands for the snapshot its refs/main names; files that are symlinks into blobs/
 * are read through them. */
#include "loaders/arch_match.h"
#include "loaders/checkpoint.h"
#include "common/error.h"
#include "common/file_open.h"
#include "common/log.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define JSON_FILE_MAX (64L * 1024 * 1024)
/* The ranges config.json values must be in (sizes up to WS_MAX_RESOLUTION come from common/arch.h):
 * far beyond any published ViT, small enough that every product of them fits the size types. */
#define HF_MAX_WIDTH 65536           /* hidden_size */
#define HF_MAX_FFN (1 << 18)         /* intermediate_size, and the SwiGLU width mlp_ratio gives */
#define HF_MAX_COUNT 1024            /* layers, heads, register tokens */
#define HF_MAX_MLP_RATIO 64.0
#define HF_MAX_EPS 0.1               /* layer_norm_eps: in (0, 0.1] */

/* Parse a small JSON file; *out is NULL (and WS_OK returned) when `optional` and absent. */
static int json_load(const char *path, int optional, cJSON **out) {
    *out = NULL;
    const char *why = NULL;
    int fd = ws_open_regular(path, NULL, &why);
    if (fd < 0 && optional && errno == ENOENT) return WS_OK;
    FILE *f = fd >= 0 ? fdopen(fd, "rb") : NULL;
    if (!f) {
        if (fd >= 0) close(fd);
        return ws_errorf(WS_ERR_IO, "%s: cannot open: %s", path, fd >= 0 ? "out of memory" : why);
    }
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0) n = ftell(f);
    if (n < 0 || n > JSON_FILE_MAX || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return ws_errorf(WS_ERR_FORMAT, "%s: unreadable or larger than %ld bytes", path, JSON_FILE_MAX);
    }
    char *buf = malloc((size_t)n + 1);
    if (!buf) {
        fclose(f);
        return ws_errorf(WS_ERR_NOMEM, "%s: out of memory", path);
    }
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    const char *end = NULL;
    *out = cJSON_ParseWithLengthOpts(buf, got, &end, 0);
    if (!*out) {   /* name the place of the syntax error: line and column (1-based) */
        int line = 1, col = 1;
        for (const char *p = buf; end && p < end && p < buf + got; p++) col = *p == '\n' ? (line++, 1) : col + 1;
        free(buf);
        return ws_errorf(WS_ERR_FORMAT, "%s: JSON syntax error at line %d, column %d", path, line, col);
    }
    free(buf);
    if (!cJSON_IsObject(*out)) {
        cJSON_Delete(*out);
        *out = NULL;
        return ws_errorf(WS_ERR_FORMAT, "%s: not a JSON object", path);
    }
    return WS_OK;
}

/* Integer `v` of field `key` in [lo, hi] into *out; an error naming the file, key and value. */
static int int_in_range(const char *file, const char *key, const cJSON *v, int lo, int hi, int *out) {
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi) ||
        v->valuedouble != (double)(int)v->valuedouble) {
        char *shown = cJSON_PrintUnformatted(v);
        int rc = ws_errorf(WS_ERR_FORMAT, "%s: '%s' is %s: expected an integer in [%d, %d]", file, key,
                           shown ? shown : "?", lo, hi);
        cJSON_free(shown);
        return rc;
    }
    *out = (int)v->valuedouble;
    return WS_OK;
}

/* The field getters: *out is always set, to the field's value, or to `def` when the field is
 * absent or out of range (then the error is returned), so no caller holds an unset value. */

/* Integer field `key` in [lo, hi] (default `def` when absent). */
static int get_int(const char *file, const cJSON *o, const char *key, int def, int lo, int hi, int *out) {
    *out = def;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) return WS_OK;
    return int_in_range(file, key, v, lo, hi, out);
}

/* Number field `key` in (lo, hi] (default `def` when absent). */
static int get_num(const char *file, const cJSON *o, const char *key, double def, double lo, double hi,
                   double *out) {
    *out = def;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) return WS_OK;
    if (!cJSON_IsNumber(v) || !(v->valuedouble > lo && v->valuedouble <= hi)) {
        char *shown = cJSON_PrintUnformatted(v);
        int rc = ws_errorf(WS_ERR_FORMAT, "%s: '%s' is %s: expected a number in (%g, %g]", file, key,
                           shown ? shown : "?", lo, hi);
        cJSON_free(shown);
        return rc;
    }
    *out = v->valuedouble;
    return WS_OK;
}

static int get_bool(const char *file, const cJSON *o, const char *key, int def, int *out) {
    *out = def;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) return WS_OK;
    if (!cJSON_IsBool(v)) return ws_errorf(WS_ERR_FORMAT, "%s: field '%s' must be true or false", file, key);
    *out = cJSON_IsTrue(v);
    return WS_OK;
}

static const char *get_str(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The architecture from config.json (name and preprocessing are set later). */
static int arch_from_config(const char *file, const cJSON *cfg, ws_arch *a) {
    memset(a, 0, sizeof *a);
    const char *type = get_str(cfg, "model_type");
    if (!type) return ws_errorf(WS_ERR_FORMAT, "%s: no model_type (expected \"dinov2\", \"dinov2_with_registers\" or \"vit\")", file);
    int rc = 0, channels;
    double eps, ratio;
    /* transformers class defaults where the key is absent; a value out of range is an error */
    rc = rc ? rc : get_int(file, cfg, "hidden_size", 768, 1, HF_MAX_WIDTH, &a->embed_dim);
    rc = rc ? rc : get_int(file, cfg, "num_hidden_layers", 12, 1, HF_MAX_COUNT, &a->depth);
    rc = rc ? rc : get_int(file, cfg, "num_attention_heads", 12, 1, HF_MAX_COUNT, &a->num_heads);
    rc = rc ? rc : get_int(file, cfg, "patch_size", 16, 1, WS_MAX_RESOLUTION, &a->patch_size);
    rc = rc ? rc : get_int(file, cfg, "image_size", 224, 1, WS_MAX_RESOLUTION, &a->img_size);
    rc = rc ? rc : get_int(file, cfg, "num_channels", 3, 1, 4, &channels);
    rc = rc ? rc : get_bool(file, cfg, "qkv_bias", 1, &a->qkv_bias);
    rc = rc ? rc : get_int(file, cfg, "num_register_tokens", 0, 0, HF_MAX_COUNT, &a->num_register_tokens);
    rc = rc ? rc : get_num(file, cfg, "layer_norm_eps", -1, 0, HF_MAX_EPS, &eps);
    if (rc) return rc;
    if (channels != 3) return ws_errorf(WS_ERR_UNSUPPORTED, "%s: num_channels %d (only RGB models, 3)", file, channels);
    if (eps < 0) {   /* absent */
        LOG_WARN("%s: no layer_norm_eps; using 1e-6 (the Web-SSL value, not the transformers default)", file);
        eps = 1e-6;
    }
    a->norm_eps = (float)eps;
    a->proj_bias = a->ffn_bias = 1;
    const char *act = get_str(cfg, "hidden_act");
    if (!strcmp(type, "dinov2") || !strcmp(type, "dinov2_with_registers")) {
        int swiglu = 0;
        double ls;
        rc = get_bool(file, cfg, "use_swiglu_ffn", 0, &swiglu);
        rc = rc ? rc : get_num(file, cfg, "mlp_ratio", 4, 0, HF_MAX_MLP_RATIO, &ratio);
        rc = rc ? rc : get_num(file, cfg, "layerscale_value", 1.0, -HUGE_VAL, HUGE_VAL, &ls);
        if (rc) return rc;
        if (!swiglu)
            return ws_errorf(WS_ERR_UNSUPPORTED, "%s: use_swiglu_ffn is not true; Web-DINO models use the SwiGLU "
                             "FFN (a GELU-MLP Dinov2 is not supported)", file);
        a->family = WS_FAMILY_DINO;
        a->ffn = WS_FFN_SWIGLU;
        a->layerscale = 1;
        a->ffn_hidden = arch_default_ffn_hidden(WS_FAMILY_DINO, a->embed_dim, ratio);
        if (a->ffn_hidden < 1 || a->ffn_hidden > HF_MAX_FFN)
            return ws_errorf(WS_ERR_FORMAT, "%s: 'mlp_ratio' %g with 'hidden_size' %d gives an FFN width of %d: "
                             "expected one in [1, %d]", file, ratio, a->embed_dim, a->ffn_hidden, HF_MAX_FFN);
    } else if (!strcmp(type, "vit")) {
        if (act && strcmp(act, "gelu"))
            return ws_errorf(WS_ERR_UNSUPPORTED, "%s: hidden_act '%s' (only \"gelu\", the erf form, is supported)",
                             file, act);
        a->family = WS_FAMILY_MAE;
        a->ffn = WS_FFN_MLP;
        rc = get_int(file, cfg, "intermediate_size", 3072, 1, HF_MAX_FFN, &a->ffn_hidden);
        if (rc) return rc;
    } else {
        return ws_errorf(WS_ERR_UNSUPPORTED, "%s: model_type '%s' is not supported (expected \"dinov2\", "
                         "\"dinov2_with_registers\" or \"vit\")", file, type);
    }
    return WS_OK;
}

/* A preprocessor size field `key` (hi: its largest value): a number or {height: N, width: N} (a
 * square side, into *side) or {shortest_edge: N} (into *shortest); the other is set to 0. An error
 * naming the file, key and value for anything else. */
static int size_side(const char *file, const char *key, const cJSON *size, int hi, int *side, int *shortest) {
    char sub[64];
    *side = *shortest = 0;
    if (cJSON_IsNumber(size)) return int_in_range(file, key, size, 1, hi, side);
    const cJSON *se = cJSON_GetObjectItemCaseSensitive(size, "shortest_edge");
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(size, "height");
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(size, "width");
    if (se) {
        snprintf(sub, sizeof sub, "%s.shortest_edge", key);
        return int_in_range(file, sub, se, 1, hi, shortest);
    }
    int hv = 0, wv = 0, rc = WS_ERR_FORMAT;
    if (h && w) {
        snprintf(sub, sizeof sub, "%s.height", key);
        rc = int_in_range(file, sub, h, 1, hi, &hv);
        snprintf(sub, sizeof sub, "%s.width", key);
        if (rc == WS_OK) rc = int_in_range(file, sub, w, 1, hi, &wv);
        if (rc != WS_OK) return rc;
        if (hv == wv) {
            *side = hv;
            return WS_OK;
        }
    }
    char *shown = cJSON_PrintUnformatted(size);
    rc = ws_errorf(WS_ERR_FORMAT, "%s: '%s' is %s: expected a number, {\"shortest_edge\": N} or a square "
                   "{\"height\": N, \"width\": N}", file, key, shown ? shown : "?");
    cJSON_free(shown);
    return rc;
}

static int read_triple(const char *file, const cJSON *o, const char *key, float out[3]) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) return WS_OK;
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 3)
        return ws_errorf(WS_ERR_FORMAT, "%s: field '%s' must be a list of 3 numbers", file, key);
    int i = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, v) {
        if (!cJSON_IsNumber(x)) return ws_errorf(WS_ERR_FORMAT, "%s: field '%s' must be a list of 3 numbers", file, key);
        out[i++] = (float)x->valuedouble;
    }
    return WS_OK;
}

/* preprocessor_config.json (BitImageProcessor: resize shortest edge + center crop; ViTImageProcessor:
 * square resize) into a->preprocess, which holds the family default on entry. */
static int preprocess_from_config(const char *file, const cJSON *pp, ws_arch *a) {
    ws_preprocess p = a->preprocess;
    int rc = read_triple(file, pp, "image_mean", p.mean);
    rc = rc ? rc : read_triple(file, pp, "image_std", p.std);
    if (rc) return rc;
    for (int c = 0; c < 3; c++)   /* the pipeline divides by it */
        if (!(p.std[c] > 0) || !isfinite(p.std[c]))
            return ws_errorf(WS_ERR_FORMAT, "%s: image_std [%g, %g, %g]: every value must be a positive number",
                             file, p.std[0], p.std[1], p.std[2]);
    for (int c = 0; c < 3; c++)
        if (!isfinite(p.mean[c]))
            return ws_errorf(WS_ERR_FORMAT, "%s: image_mean [%g, %g, %g]: every value must be a finite number",
                             file, p.mean[0], p.mean[1], p.mean[2]);
    int crop = 0, side = 0, shortest = 0, crop_side = 0, crop_short = 0, resample = 3;
    rc = get_bool(file, pp, "do_center_crop", 0, &crop);
    rc = rc ? rc : get_int(file, pp, "resample", 3, 0, 5, &resample);
    if (rc) return rc;
    if (resample != 3) LOG_WARN("%s: resample %d; the pipeline resizes with PIL bicubic (3)", file, resample);
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(pp, "size");
    const cJSON *crop_size = cJSON_GetObjectItemCaseSensitive(pp, "crop_size");
    if (size) rc = size_side(file, "size", size, crop ? WS_MAX_RESIZE : WS_MAX_RESOLUTION, &side, &shortest);
    if (rc == WS_OK && crop && crop_size)
        rc = size_side(file, "crop_size", crop_size, WS_MAX_RESOLUTION, &crop_side, &crop_short);
    if (rc) return rc;
    if (size && crop && crop_size && shortest && crop_side) {
        if (shortest < crop_side)
            return ws_errorf(WS_ERR_FORMAT, "%s: 'size.shortest_edge' %d is smaller than 'crop_size' %d: the crop "
                             "would leave the resized image", file, shortest, crop_side);
        p.mode = WS_PREPROCESS_CROP;
        p.resize = shortest;
        p.crop = crop_side;
    } else if (size && !crop && side) {
        p.mode = WS_PREPROCESS_SQUARE;
        p.resize = p.crop = side;
    } else if (size && (crop ? crop_size != NULL : 1)) {   /* present, but not a form the pipeline runs */
        return ws_errorf(WS_ERR_FORMAT, "%s: %s is not supported: expected do_center_crop true with "
                         "size.shortest_edge and a square crop_size, or do_center_crop false with a square size",
                         file, crop ? "a crop with a square 'size' or a 'crop_size' {shortest_edge}"
                                    : "a square resize to 'size' {shortest_edge}");
    } else {   /* keys absent: the family's default */
        LOG_WARN("%s: no %s; using %s %d/%d", file, size ? "crop_size" : "size",
                 p.mode == WS_PREPROCESS_CROP ? "crop" : "square", p.resize, p.crop);
    }
    a->preprocess = p;
    return WS_OK;
}

/* Name for the directory's architecture: the last path component, or for a HF cache snapshot
 * (.../models--org--name/snapshots/<hash>) the model name. */
static void name_from_dir(const char *dir, char *out, size_t n) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", dir);
    size_t len = strlen(buf);
    while (len > 1 && buf[len - 1] == '/') buf[--len] = '\0';
    char *last = strrchr(buf, '/');
    const char *name = last ? last + 1 : buf;
    if (last && last > buf) {
        *last = '\0';
        char *parent = strrchr(buf, '/');
        const char *pname = parent ? parent + 1 : buf;
        if (!strcmp(pname, "snapshots") && parent) {
            *parent = '\0';
            char *gp = strrchr(buf, '/');
            const char *model = gp ? gp + 1 : buf;
            name = model;
            for (const char *d = strstr(model, "--"); d; d = strstr(d + 2, "--")) name = d + 2;
        }
    }
    size_t len_name = strlen(name);
    if (len_name >= n) len_name = n - 1;
    memcpy(out, name, len_name);
    out[len_name] = '\0';
}

typedef int (*file_opener)(const char *path, ws_ckpt *out);

/* model.safetensors.index.json / pytorch_model.bin.index.json: open every shard once with `open`,
 * then check that each listed tensor is in the shard the index names. */
static int open_shards(const char *dir, const char *index_path, file_opener open, ws_ckpt *out) {
    cJSON *idx;
    int rc = json_load(index_path, 0, &idx);
    if (rc) return rc;
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(idx, "weight_map");
    if (!cJSON_IsObject(map)) {
        cJSON_Delete(idx);
        return ws_errorf(WS_ERR_FORMAT, "%s: no weight_map object", index_path);
    }
    char path[4096];
    const cJSON *e;
    cJSON_ArrayForEach(e, map) {
        if (!cJSON_IsString(e)) {
            rc = ws_errorf(WS_ERR_FORMAT, "%s: weight_map entry '%s' is not a file name", index_path, e->string);
            break;
        }
        const char *shard = e->valuestring;
        if (shard[0] == '/' || strstr(shard, "..")) {
            rc = ws_errorf(WS_ERR_FORMAT, "%s: shard name '%s' leaves the directory", index_path, shard);
            break;
        }
        snprintf(path, sizeof path, "%s/%s", dir, shard);
        int seen = 0;
        for (size_t i = 0; i < out->num_files && !seen; i++) seen = !strcmp(out->files[i], path);
        if (seen) continue;
        struct stat st;
        if (stat(path, &st) != 0) {
            rc = ws_errorf(WS_ERR_IO, "%s: shard %s (listed in %s) is missing", dir, shard, index_path);
            break;
        }
        rc = open(path, out);
        if (rc) break;
    }
    cJSON_ArrayForEach(e, map) {
        if (rc) break;
        const ws_ckpt_tensor *t = ckpt_find(out, e->string);
        snprintf(path, sizeof path, "%s/%s", dir, e->valuestring);
        if (!t)
            rc = ws_errorf(WS_ERR_FORMAT, "%s: tensor '%s' is listed in %s but absent from shard %s", dir, e->string,
                           index_path, e->valuestring);
        else if (strcmp(t->file, path))
            rc = ws_errorf(WS_ERR_FORMAT, "%s: tensor '%s' is listed in %s for shard %s but found in %s", dir,
                           e->string, index_path, e->valuestring, t->file);
    }
    cJSON_Delete(idx);
    return rc;
}

/* A hub cache folder (models--org--name with refs/main and snapshots/): the snapshot refs/main
 * names, into snap[cap]. 1 when `dir` is such a folder (WS_OK in *rc or an error), else 0. */
static int hub_cache_snapshot(const char *dir, char *snap, size_t cap, int *rc) {
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/snapshots", dir);
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) return 0;
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (stat(path, &st) == 0) return 0;   /* an ordinary model directory */
    snprintf(path, sizeof path, "%s/refs/main", dir);
    FILE *f = fopen(path, "r");
    char rev[256] = "";
    if (!f) {
        *rc = ws_errorf(WS_ERR_IO, "%s: a hub cache folder without refs/main (%s); pass the snapshot "
                        "directory, %s/snapshots/<revision>", dir, strerror(errno), dir);
        return 1;
    }
    if (!fgets(rev, sizeof rev, f)) rev[0] = '\0';
    fclose(f);
    rev[strcspn(rev, "\r\n")] = '\0';
    if (!rev[0] || strchr(rev, '/') || !strcmp(rev, "..") || !strcmp(rev, ".")) {
        *rc = ws_errorf(WS_ERR_FORMAT, "%s: refs/main does not hold a revision", dir);
        return 1;
    }
    if ((size_t)snprintf(snap, cap, "%s/snapshots/%s", dir, rev) >= cap) {
        *rc = ws_errorf(WS_ERR_ARG, "%s: path too long", dir);
        return 1;
    }
    if (stat(snap, &st) != 0 || !S_ISDIR(st.st_mode)) {
        *rc = ws_errorf(WS_ERR_IO, "%s: refs/main names revision %s but %s is missing", dir, rev, snap);
        return 1;
    }
    *rc = WS_OK;
    return 1;
}

int ckpt_open_hf_dir(const char *dir, ws_ckpt *out) {
    char path[4096], snap[2048];
    int rc;
    if (hub_cache_snapshot(dir, snap, sizeof snap, &rc)) {
        if (rc != WS_OK) return rc;
        LOG_INFO("%s: hub cache folder; reading snapshot %s", dir, snap);
        dir = snap;
    }
    cJSON *cfg = NULL, *pp = NULL;
    snprintf(path, sizeof path, "%s/config.json", dir);
    rc = json_load(path, 0, &cfg);
    if (rc) return rc;
    ws_arch a;
    rc = arch_from_config(path, cfg, &a);
    cJSON_Delete(cfg);
    if (rc) return rc;
    a.preprocess = arch_default_preprocess(a.img_size);
    snprintf(path, sizeof path, "%s/preprocessor_config.json", dir);
    rc = json_load(path, 1, &pp);
    if (rc == WS_OK && pp) rc = preprocess_from_config(path, pp, &a);
    cJSON_Delete(pp);
    if (rc) return rc;

    char dir_name[WS_NAME_MAX];
    name_from_dir(dir, dir_name, sizeof dir_name);
    const ws_arch *same = arch_builtin_same(&a, dir_name);
    snprintf(a.name, sizeof a.name, "%s", same ? same->name : dir_name);
    snprintf(path, sizeof path, "%s/config.json", dir);
    rc = arch_validate(&a);
    if (rc) return ws_error_context(rc, "%s", path);

    /* the weights: the first of these present */
    static const struct { const char *file; int index; file_opener open; } weights[] = {
        {"model.safetensors", 0, ckpt_open_safetensors},
        {"model.safetensors.index.json", 1, ckpt_open_safetensors},
        {"pytorch_model.bin", 0, ckpt_open_pth},
        {"pytorch_model.bin.index.json", 1, ckpt_open_pth},
    };
    size_t w = 0;
    struct stat st;
    for (; w < sizeof weights / sizeof weights[0]; w++) {
        snprintf(path, sizeof path, "%s/%s", dir, weights[w].file);
        if (stat(path, &st) == 0) break;
    }
    if (w == sizeof weights / sizeof weights[0])
        return ws_errorf(WS_ERR_IO, "%s: no weights: none of model.safetensors, model.safetensors.index.json, "
                         "pytorch_model.bin, pytorch_model.bin.index.json is present", dir);
    rc = weights[w].index ? open_shards(dir, path, weights[w].open, out) : weights[w].open(path, out);
    if (rc) return rc;
    out->has_arch = 1;
    out->arch = a;
    return WS_OK;
}
