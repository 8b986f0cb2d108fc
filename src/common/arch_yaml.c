/* Architecture files (the .yaml files in configs/, fields in docs/formats.md): reading with libyaml, writing,
 * and resolving an --arch value (built-in name or YAML path). Every reading error names the file,
 * the line and the field; unknown and repeated keys are errors. */
#include "common/arch.h"
#include "common/error.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

enum {
    F_NAME, F_FAMILY, F_PATCH, F_IMG, F_EMBED, F_DEPTH, F_HEADS, F_FFN, F_FFN_HIDDEN, F_MLP_RATIO,
    F_LAYERSCALE, F_QKV_BIAS, F_PROJ_BIAS, F_FFN_BIAS, F_NORM_EPS, F_REGISTERS, F_PREPROCESS, F_COUNT
};
static const char *field_names[F_COUNT] = {
    "name", "family", "patch_size", "img_size", "embed_dim", "depth", "num_heads", "ffn", "ffn_hidden",
    "mlp_ratio", "layerscale", "qkv_bias", "proj_bias", "ffn_bias", "norm_eps", "num_register_tokens",
    "preprocess"};

enum { P_MODE, P_RESIZE, P_CROP, P_MEAN, P_STD, P_COUNT };
static const char *pre_names[P_COUNT] = {"mode", "resize", "crop", "mean", "std"};

typedef struct {
    const char *path;
    yaml_document_t *doc;
} reader;

static int line_of(const yaml_node_t *n) { return (int)n->start_mark.line + 1; }

static int bad(const reader *r, const yaml_node_t *n, const char *field, const char *want) {
    if (n->type != YAML_SCALAR_NODE)
        return ws_errorf(WS_ERR_FORMAT, "%s:%d: field '%s': expected %s, got a %s", r->path, line_of(n), field, want,
                         n->type == YAML_SEQUENCE_NODE ? "list" : "mapping");
    return ws_errorf(WS_ERR_FORMAT, "%s:%d: field '%s': expected %s, got '%.60s'", r->path, line_of(n), field, want,
                     (const char *)n->data.scalar.value);
}

static const char *scalar(const yaml_node_t *n) {
    return n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int read_int(const reader *r, const yaml_node_t *n, const char *field, int min, int *out) {
    const char *s = scalar(n);
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || v < min || v > (1L << 24)) {
        char want[64];
        snprintf(want, sizeof want, "an integer in [%d, %ld]", min, 1L << 24);
        return bad(r, n, field, want);
    }
    *out = (int)v;
    return WS_OK;
}

static int read_double(const reader *r, const yaml_node_t *n, const char *field, double *out) {
    const char *s = scalar(n);
    char *end;
    double v = s ? strtod(s, &end) : NAN;
    if (!s || !*s || *end || !isfinite(v)) return bad(r, n, field, "a finite number");
    *out = v;
    return WS_OK;
}

static int read_bool(const reader *r, const yaml_node_t *n, const char *field, int *out) {
    const char *s = scalar(n);
    if (s && (!strcasecmp(s, "true") || !strcasecmp(s, "yes"))) *out = 1;
    else if (s && (!strcasecmp(s, "false") || !strcasecmp(s, "no"))) *out = 0;
    else return bad(r, n, field, "true or false");
    return WS_OK;
}

static int read_triple(const reader *r, const yaml_node_t *n, const char *field, float out[3]) {
    if (n->type != YAML_SEQUENCE_NODE || n->data.sequence.items.top - n->data.sequence.items.start != 3)
        return bad(r, n, field, "a list of 3 numbers");
    for (int i = 0; i < 3; i++) {
        const yaml_node_t *x = yaml_document_get_node(r->doc, n->data.sequence.items.start[i]);
        double v;
        int rc = read_double(r, x, field, &v);
        if (rc) return rc;
        out[i] = (float)v;
    }
    return WS_OK;
}

/* Collect the values of a mapping node into vals[] by key; unknown or repeated keys are errors. */
static int collect(const reader *r, const yaml_node_t *map, const char *what, const char **keys, int nkeys,
                   const yaml_node_t **vals) {
    if (map->type != YAML_MAPPING_NODE)
        return ws_errorf(WS_ERR_FORMAT, "%s:%d: %s must be a mapping of field: value", r->path, line_of(map), what);
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = yaml_document_get_node(r->doc, p->key);
        const yaml_node_t *v = yaml_document_get_node(r->doc, p->value);
        const char *key = k ? scalar(k) : NULL;
        if (!key || !v) return ws_errorf(WS_ERR_FORMAT, "%s: %s has a non-scalar key", r->path, what);
        int i = 0;
        while (i < nkeys && strcmp(key, keys[i])) i++;
        if (i == nkeys) return ws_errorf(WS_ERR_FORMAT, "%s:%d: unknown field '%.60s' in %s", r->path, line_of(k), key, what);
        if (vals[i]) return ws_errorf(WS_ERR_FORMAT, "%s:%d: field '%s' given twice", r->path, line_of(k), key);
        vals[i] = v;
    }
    return WS_OK;
}

static int read_preprocess(const reader *r, const yaml_node_t *n, ws_arch *a) {
    const yaml_node_t *v[P_COUNT] = {0};
    int rc = collect(r, n, "preprocess", pre_names, P_COUNT, v);
    if (rc) return rc;
    ws_preprocess *p = &a->preprocess;
    if (v[P_MODE]) {
        const char *s = scalar(v[P_MODE]);
        if (s && !strcmp(s, "crop")) p->mode = WS_PREPROCESS_CROP;
        else if (s && !strcmp(s, "square")) p->mode = WS_PREPROCESS_SQUARE;
        else return bad(r, v[P_MODE], "preprocess.mode", "crop or square");
    }
    if (v[P_CROP] && (rc = read_int(r, v[P_CROP], "preprocess.crop", 1, &p->crop))) return rc;
    p->resize = p->mode == WS_PREPROCESS_CROP ? p->crop * 256 / 224 : p->crop;
    if (v[P_RESIZE] && (rc = read_int(r, v[P_RESIZE], "preprocess.resize", 1, &p->resize))) return rc;
    if (v[P_MEAN] && (rc = read_triple(r, v[P_MEAN], "preprocess.mean", p->mean))) return rc;
    if (v[P_STD] && (rc = read_triple(r, v[P_STD], "preprocess.std", p->std))) return rc;
    for (int i = 0; i < 3; i++)
        if (!(p->std[i] > 0)) return bad(r, v[P_STD], "preprocess.std", "positive numbers");
    return WS_OK;
}

static int read_arch(const reader *r, const yaml_node_t *root, ws_arch *a) {
    const yaml_node_t *v[F_COUNT] = {0};
    int rc = collect(r, root, "the architecture", field_names, F_COUNT, v);
    if (rc) return rc;
    static const int required[] = {F_FAMILY, F_PATCH, F_EMBED, F_DEPTH, F_HEADS};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (!v[required[i]])
            return ws_errorf(WS_ERR_FORMAT, "%s: required field '%s' is missing", r->path, field_names[required[i]]);
    memset(a, 0, sizeof *a);
    const char *fam = scalar(v[F_FAMILY]);
    if (fam && !strcmp(fam, "dino")) a->family = WS_FAMILY_DINO;
    else if (fam && !strcmp(fam, "mae")) a->family = WS_FAMILY_MAE;
    else return bad(r, v[F_FAMILY], "family", "dino or mae");
    /* family defaults */
    const int dino = a->family == WS_FAMILY_DINO;
    a->ffn = dino ? WS_FFN_SWIGLU : WS_FFN_MLP;
    a->layerscale = dino;
    a->img_size = 224;
    a->qkv_bias = a->proj_bias = a->ffn_bias = 1;
    a->norm_eps = 1e-6f;
    if (v[F_NAME]) {
        const char *s = scalar(v[F_NAME]);
        if (!s || !*s || strlen(s) >= WS_NAME_MAX) return bad(r, v[F_NAME], "name", "a non-empty name");
        snprintf(a->name, sizeof a->name, "%s", s);
    } else {
        const char *base = strrchr(r->path, '/');
        base = base ? base + 1 : r->path;
        const char *dot = strrchr(base, '.');
        snprintf(a->name, sizeof a->name, "%.*s", (int)(dot ? dot - base : (long)strlen(base)), base);
    }
    if ((rc = read_int(r, v[F_PATCH], "patch_size", 1, &a->patch_size))) return rc;
    if (v[F_IMG] && (rc = read_int(r, v[F_IMG], "img_size", 1, &a->img_size))) return rc;
    if ((rc = read_int(r, v[F_EMBED], "embed_dim", 1, &a->embed_dim))) return rc;
    if ((rc = read_int(r, v[F_DEPTH], "depth", 1, &a->depth))) return rc;
    if ((rc = read_int(r, v[F_HEADS], "num_heads", 1, &a->num_heads))) return rc;
    if (v[F_FFN]) {
        const char *s = scalar(v[F_FFN]);
        if (s && !strcmp(s, "swiglu")) a->ffn = WS_FFN_SWIGLU;
        else if (s && !strcmp(s, "mlp")) a->ffn = WS_FFN_MLP;
        else return bad(r, v[F_FFN], "ffn", "swiglu or mlp");
    }
    double ratio = 4;
    if (v[F_MLP_RATIO] && (rc = read_double(r, v[F_MLP_RATIO], "mlp_ratio", &ratio))) return rc;
    if (!(ratio > 0)) return bad(r, v[F_MLP_RATIO], "mlp_ratio", "a positive number");
    /* The hidden-size rule goes with the FFN kind: SwiGLU (dino) or plain MLP (mae). */
    int derived = arch_default_ffn_hidden(a->ffn == WS_FFN_SWIGLU ? WS_FAMILY_DINO : WS_FAMILY_MAE, a->embed_dim,
                                          ratio);
    a->ffn_hidden = derived;
    if (v[F_FFN_HIDDEN]) {
        if ((rc = read_int(r, v[F_FFN_HIDDEN], "ffn_hidden", 1, &a->ffn_hidden))) return rc;
        if (v[F_MLP_RATIO] && a->ffn_hidden != derived)
            return ws_errorf(WS_ERR_FORMAT, "%s:%d: field 'ffn_hidden': %d disagrees with mlp_ratio %g, which gives %d "
                             "(give one of them)", r->path, line_of(v[F_FFN_HIDDEN]), a->ffn_hidden, ratio, derived);
    }
    struct { int f; int *dst; } bools[] = {{F_LAYERSCALE, &a->layerscale}, {F_QKV_BIAS, &a->qkv_bias},
                                           {F_PROJ_BIAS, &a->proj_bias}, {F_FFN_BIAS, &a->ffn_bias}};
    for (size_t i = 0; i < sizeof bools / sizeof bools[0]; i++)
        if (v[bools[i].f] && (rc = read_bool(r, v[bools[i].f], field_names[bools[i].f], bools[i].dst))) return rc;
    double eps;
    if (v[F_NORM_EPS]) {
        if ((rc = read_double(r, v[F_NORM_EPS], "norm_eps", &eps))) return rc;
        if (!(eps > 0)) return bad(r, v[F_NORM_EPS], "norm_eps", "a positive number");
        a->norm_eps = (float)eps;
    }
    if (v[F_REGISTERS] && (rc = read_int(r, v[F_REGISTERS], "num_register_tokens", 0, &a->num_register_tokens)))
        return rc;
    a->preprocess = arch_default_preprocess(a->img_size);
    if (v[F_PREPROCESS] && (rc = read_preprocess(r, v[F_PREPROCESS], a))) return rc;
    return WS_OK;
}

int arch_load_yaml(const char *path, ws_arch *out) {
    FILE *f = fopen(path, "rb");
    if (!f) return ws_errorf(WS_ERR_IO, "%s: cannot open architecture file: %s", path, strerror(errno));
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        fclose(f);
        return ws_errorf(WS_ERR_NOMEM, "%s: cannot initialise the YAML parser", path);
    }
    yaml_parser_set_input_file(&parser, f);
    int rc;
    if (!yaml_parser_load(&parser, &doc)) {
        rc = ws_errorf(WS_ERR_FORMAT, "%s:%d: YAML error: %s", path, (int)parser.problem_mark.line + 1,
                       parser.problem ? parser.problem : "unreadable");
    } else {
        const yaml_node_t *root = yaml_document_get_root_node(&doc);
        reader r = {path, &doc};
        if (!root) rc = ws_errorf(WS_ERR_FORMAT, "%s: empty architecture file", path);
        else rc = read_arch(&r, root, out);
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    fclose(f);
    if (rc == WS_OK && (rc = arch_validate(out))) ws_error_context(rc, "%s", path);
    return rc;
}

/* Shortest decimal form of `v` that reads back as the same float, with a '.' in the mantissa
 * ("1.0e-06") so that YAML 1.1 readers (PyYAML) also see a float. */
static void fmt_float(char *buf, size_t n, float v) {
    char tmp[32];
    for (int digits = 6; digits <= 9; digits++) {
        snprintf(tmp, sizeof tmp, "%.*g", digits, v);
        if (strtof(tmp, NULL) == v) break;
    }
    char *e = strchr(tmp, 'e');
    if (e && !memchr(tmp, '.', (size_t)(e - tmp))) snprintf(buf, n, "%.*s.0%s", (int)(e - tmp), tmp, e);
    else snprintf(buf, n, "%s", tmp);
}

/* A YAML scalar for `s`: bare when it is plain [A-Za-z0-9._-], else double-quoted with escapes. */
static void put_string(FILE *f, const char *s) {
    int plain = *s && *s != '-' && *s != '.';
    for (const char *p = s; *p && plain; p++)
        plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
                *p == '_' || *p == '-';
    if (plain) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f) fprintf(f, "\\x%02x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

int arch_write_yaml(const ws_arch *a, const char *path) {
    int rc = arch_validate(a);
    if (rc) return rc;
    FILE *f = fopen(path, "w");
    if (!f) return ws_errorf(WS_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    char eps[32], m[3][32], s[3][32];
    fmt_float(eps, sizeof eps, a->norm_eps);
    for (int i = 0; i < 3; i++) {
        fmt_float(m[i], sizeof m[i], a->preprocess.mean[i]);
        fmt_float(s[i], sizeof s[i], a->preprocess.std[i]);
    }
    const char *yn[] = {"false", "true"};
    fputs("name: ", f);
    put_string(f, a->name);
    fprintf(f, "\nfamily: %s\npatch_size: %d\nimg_size: %d\nembed_dim: %d\ndepth: %d\nnum_heads: %d\nffn: %s\n"
            "ffn_hidden: %d\n", arch_family_name(a->family), a->patch_size, a->img_size, a->embed_dim, a->depth,
            a->num_heads, arch_ffn_name(a->ffn), a->ffn_hidden);
    /* mlp_ratio is written only when the usual ratio of 4 gives ffn_hidden (both are checked on reading). */
    int rule = arch_default_ffn_hidden(a->ffn == WS_FFN_SWIGLU ? WS_FAMILY_DINO : WS_FAMILY_MAE, a->embed_dim, 4);
    if (rule == a->ffn_hidden) fputs("mlp_ratio: 4\n", f);
    fprintf(f, "layerscale: %s\nqkv_bias: %s\nproj_bias: %s\nffn_bias: %s\nnorm_eps: %s\nnum_register_tokens: %d\n",
            yn[!!a->layerscale], yn[!!a->qkv_bias], yn[!!a->proj_bias], yn[!!a->ffn_bias], eps,
            a->num_register_tokens);
    fprintf(f, "preprocess: {mode: %s, resize: %d, crop: %d, mean: [%s, %s, %s], std: [%s, %s, %s]}\n",
            a->preprocess.mode == WS_PREPROCESS_CROP ? "crop" : "square", a->preprocess.resize, a->preprocess.crop,
            m[0], m[1], m[2], s[0], s[1], s[2]);
    if (fclose(f) != 0) return ws_errorf(WS_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    return WS_OK;
}

static int has_suffix(const char *s, const char *suf) {
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && !strcasecmp(s + n - k, suf);
}

int arch_resolve(const char *name_or_file, ws_arch *out) {
    if (has_suffix(name_or_file, ".yaml") || has_suffix(name_or_file, ".yml"))
        return arch_load_yaml(name_or_file, out);
    const ws_arch *b = arch_builtin_find(name_or_file);
    if (!b)
        return ws_errorf(WS_ERR_ARG, "--arch '%s': not a built-in architecture (see `webssl-dist models`) nor a "
                         ".yaml/.yml file", name_or_file);
    *out = *b;
    return WS_OK;
}
