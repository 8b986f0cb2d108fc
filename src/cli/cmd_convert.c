/* `webssl-dist convert IN OUT [--arch NAME|FILE.yaml] [--dtype fp32|bf16|fp16]`: any checkpoint
 * (original or SSL-teacher .pth, safetensors, HF directory) to a HuggingFace model directory that
 * transformers' from_pretrained loads: config.json (Dinov2Model with use_swiglu_ffn, or ViTModel for
 * MAE), model.safetensors with HF names (packed qkv split into query/key/value), and
 * preprocessor_config.json. With OUT ending in ".safetensors" only that file is written.
 *
 * The tensors are resolved with the same name maps and checks as model loading (every backbone
 * tensor used, every expected one found), then each is mapped onto the HF table of its family by
 * weight field and row group; data is streamed tensor by tensor, in the source dtype unless
 * --dtype is given. Heads of teacher checkpoints are not part of an HF backbone and are left out. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "cli/flags.h"
#include "common/error.h"
#include "loaders/arch_match.h"
#include "loaders/checkpoint.h"
#include "loaders/hf_dir_write.h"
#include "loaders/namemap.h"
#include "loaders/safetensors_write.h"

#define MAX_OUT 4096

/* One output tensor: a row window of a checkpoint tensor (or zeros when src is NULL). */
typedef struct {
    const ws_ckpt_tensor *src;
    int whole;               /* 1: the entire tensor */
    int64_t start, count;    /* else: window along the first dimension */
} piece;

typedef struct {
    ws_st_desc *desc;
    piece *pieces;
    size_t n;
} plan;

static int plan_add(plan *p, const char *name, const piece *pc, ws_dtype dt, int ndim, const int64_t *shape) {
    if (p->n == MAX_OUT) return ws_errorf(WS_ERR_LIMIT, "more than %d output tensors", MAX_OUT);
    ws_st_desc *d = &p->desc[p->n];
    snprintf(d->name, sizeof d->name, "%s", name);
    d->dtype = dt;
    d->ndim = ndim;
    memcpy(d->shape, shape, (size_t)ndim * sizeof *shape);
    p->pieces[p->n++] = *pc;
    return WS_OK;
}

/* `pattern` with {i} replaced by `layer`. */
static void expand(char *out, size_t cap, const char *pattern, int layer) {
    const char *at = strstr(pattern, "{i}");
    if (!at) snprintf(out, cap, "%s", pattern);
    else snprintf(out, cap, "%.*s%d%s", (int)(at - pattern), pattern, layer, at + 3);
}

/* HF entries that do not apply to this FFN kind (Dinov2 names SwiGLU weights_in/out, MLP fc1/fc2). */
static int hf_entry_applies(const ws_name_entry *x, const ws_arch *a) {
    int swiglu_name = strstr(x->pattern, "weights_in") || strstr(x->pattern, "weights_out");
    int mlp_name = strstr(x->pattern, "mlp.fc1") || strstr(x->pattern, "mlp.fc2");
    return a->ffn == WS_FFN_SWIGLU ? !mlp_name : !swiglu_name;
}

/* Map one bound checkpoint tensor onto the HF entries of its field and row groups. */
static int plan_binding(plan *p, const ws_name_binding *b, const ws_name_layout *hf, const ws_arch *a,
                        int force_dtype, ws_dtype dtype) {
    const ws_name_entry *e = b->entry;
    const ws_ckpt_tensor *t = b->tensor;
    int G = weights_field_groups(a, e->field);
    int g0 = e->ngroups ? e->group0 : 0, ng = e->ngroups ? e->ngroups : G;
    int lead = e->lead_ones;
    int64_t rows_per_group = t->shape[lead] / ng;
    int found = 0;
    for (size_t k = 0; k < hf->num_entries; k++) {
        const ws_name_entry *x = &hf->entries[k];
        int xg0 = x->ngroups ? x->group0 : 0, xng = x->ngroups ? x->ngroups : G;
        if (x->field != e->field || !hf_entry_applies(x, a) || xg0 < g0 || xg0 + xng > g0 + ng) continue;
        char name[256];
        expand(name, sizeof name, x->pattern, b->layer);
        piece pc = {.src = t, .whole = xng == ng, .start = (int64_t)(xg0 - g0) * rows_per_group,
                    .count = (int64_t)xng * rows_per_group};
        if (!pc.whole && lead)
            return ws_errorf(WS_ERR_UNSUPPORTED, "tensor '%s': cannot split a tensor with leading unit dims", t->name);
        int64_t shape[WS_CKPT_MAX_DIMS];
        int nd = 0;
        for (int i = 0; i < x->lead_ones; i++) shape[nd++] = 1;
        shape[nd++] = pc.count;
        for (int i = lead + 1; i < t->ndim; i++) shape[nd++] = t->shape[i];
        int rc = plan_add(p, name, &pc, force_dtype ? dtype : t->dtype, nd, shape);
        if (rc != WS_OK) return rc;
        found++;
    }
    if (!found) return ws_errorf(WS_ERR_UNSUPPORTED, "tensor '%s' has no place in a %s checkpoint", t->name, hf->name);
    return WS_OK;
}

static int fill_piece(void *ctx, size_t i, void *dst) {
    const plan *p = ctx;
    const piece *pc = &p->pieces[i];
    const ws_st_desc *d = &p->desc[i];
    size_t n = 1;
    for (int k = 0; k < d->ndim; k++) n *= (size_t)d->shape[k];
    if (!pc->src) {
        memset(dst, 0, n * ws_dtype_size(d->dtype));
        return WS_OK;
    }
    float *f = malloc((n ? n : 1) * sizeof *f);
    if (!f) return ws_errorf(WS_ERR_NOMEM, "out of memory converting '%s'", d->name);
    const ws_ckpt_tensor *t = pc->src;
    int rc;
    int64_t numel = ckpt_numel(t);
    if (pc->whole && t->ndim >= 2)
        rc = ckpt_read_f32(t, 0, t->shape[0], 0, t->shape[0] ? numel / t->shape[0] : 0, f);
    else if (pc->whole)
        rc = ckpt_read_f32(t, 0, 1, 0, numel, f);
    else if (t->ndim >= 2)                            /* row window of a [rows, cols] weight */
        rc = ckpt_read_f32(t, pc->start, pc->count, 0, numel / t->shape[0], f);
    else                                              /* window of a vector */
        rc = ckpt_read_f32(t, 0, 1, pc->start, pc->count, f);
    if (rc == WS_OK) ws_convert_from_f32(dst, d->dtype, f, n);
    free(f);
    return rc;
}

/* embeddings.mask_token for Dinov2: the checkpoint's, else zeros (it only serves masked training). */
static int plan_mask_token(plan *p, const ws_ckpt *c, const ws_arch *a, ws_dtype dt) {
    piece pc = {.whole = 1};
    for (size_t i = 0; i < c->num_tensors; i++) {
        const char *n = c->tensors[i].name, *s = strstr(n, "mask_token");
        if (s && !strcmp(s, "mask_token") && (s == n || s[-1] == '.') && ckpt_numel(&c->tensors[i]) == a->embed_dim)
            pc.src = &c->tensors[i];
    }
    int64_t shape[2] = {1, a->embed_dim};
    return plan_add(p, "embeddings.mask_token", &pc, pc.src ? pc.src->dtype : dt, 2, shape);
}

static int convert(const char *in, const char *out, const char *arch_flag, int force_dtype, ws_dtype dtype) {
    ws_ckpt c;
    int rc = ckpt_open(in, &c);
    if (rc != WS_OK) return rc;
    ws_arch a;
    ws_name_binding *b = NULL;
    size_t nb = 0;
    plan p = {.desc = calloc(MAX_OUT, sizeof *p.desc), .pieces = calloc(MAX_OUT, sizeof *p.pieces)};
    const ws_name_layout *hf = NULL;
    if (!p.desc || !p.pieces) rc = ws_errorf(WS_ERR_NOMEM, "out of memory");
    if (rc == WS_OK) rc = arch_for_checkpoint(&c, arch_flag, &a);
    if (rc == WS_OK && a.num_register_tokens)
        rc = ws_errorf(WS_ERR_UNSUPPORTED, "%s: register tokens have no place in transformers' Dinov2Model", in);
    if (rc == WS_OK && a.family == WS_FAMILY_DINO && !a.layerscale)
        rc = ws_errorf(WS_ERR_UNSUPPORTED, "%s: transformers' Dinov2Model always applies LayerScale", in);
    if (rc == WS_OK) {
        hf = a.family == WS_FAMILY_DINO ? &namemap_hf_dinov2 : &namemap_hf_vit;
        rc = namemap_bind(&c, namemap_choose(&c, &a), &a, &b, &nb);
    }
    for (size_t i = 0; rc == WS_OK && i < nb; i++) rc = plan_binding(&p, &b[i], hf, &a, force_dtype, dtype);
    ws_dtype main_dt = force_dtype ? dtype : (p.n ? p.desc[0].dtype : WS_DTYPE_F32);
    if (rc == WS_OK && a.family == WS_FAMILY_DINO) rc = plan_mask_token(&p, &c, &a, main_dt);
    size_t olen = strlen(out);
    int file_only = olen > 12 && !strcmp(out + olen - 12, ".safetensors");
    char st_path[4096];
    if (rc == WS_OK && !file_only && mkdir(out, 0777) != 0 && errno != EEXIST)
        rc = ws_errorf(WS_ERR_IO, "%s: cannot create directory: %s", out, strerror(errno));
    snprintf(st_path, sizeof st_path, file_only ? "%s" : "%s/model.safetensors", out);
    if (rc == WS_OK) rc = safetensors_write(st_path, p.desc, p.n, fill_piece, &p);
    if (rc == WS_OK && !file_only) rc = hf_dir_write_config(out, &a, main_dt);
    if (rc == WS_OK && !file_only) rc = hf_dir_write_preprocessor(out, &a);
    if (rc == WS_OK)
        printf("%s: %zu tensors of %s (%s) written to %s\n", in, p.n, a.name, arch_family_name(a.family), out);
    free(b);
    free(p.desc);
    free(p.pieces);
    ckpt_close(&c);
    return rc;
}

typedef struct {
    const char *in, *out, *arch;
    ws_dtype dtype;   /* WS_DTYPE_COUNT: as stored */
} convert_options;

#define O(field) offsetof(convert_options, field)

static const flag_spec flags[] = {
    FLAG("IN", NULL, FLAG_STRING, O(in), ".pth (plain state_dict or SSL teacher), .safetensors or HF directory",
     .attrs = FLAG_REQUIRED),
    FLAG("OUT", NULL, FLAG_STRING, O(out), "directory to write config.json, model.safetensors,\n"
     "preprocessor_config.json (or a path ending in .safetensors to\nwrite only the weights)", .attrs = FLAG_REQUIRED),
    FLAG("--arch", "NAME|FILE.yaml", FLAG_STRING, O(arch), "architecture [from config.json or the tensor shapes]"),
    FLAG("--dtype", NULL, FLAG_DTYPE, O(dtype), "dtype of the written weights [as stored]", .words = "fp32|bf16|fp16"),
};

static const flag_table table = FLAG_TABLE("convert", NULL, flags);

int cmd_convert(int argc, char **argv) {
    convert_options o = {.dtype = WS_DTYPE_COUNT};
    int code = flags_parse_or_exit(&table, argc, argv, &o, sizeof o, 1);
    if (code >= 0) return code;
    int force_dtype = o.dtype != WS_DTYPE_COUNT;
    if (convert(o.in, o.out, o.arch, force_dtype, force_dtype ? o.dtype : WS_DTYPE_F32) != WS_OK) {
        fprintf(stderr, "webssl-dist convert: %s\n", ws_error_message());
        return WS_EXIT_USAGE;
    }
    return WS_EXIT_OK;
}
