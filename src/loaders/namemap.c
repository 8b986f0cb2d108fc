/* Name-map matching and checking: resolves a checkpoint's tensors onto weight fields under one
 * layout and reports every unknown, duplicate, missing or mis-shaped tensor (see namemap.h). */
#include "loaders/namemap.h"
#include "common/error.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const ws_name_layout *const layouts[] = {
    &namemap_hf_dinov2,
    &namemap_hf_vit,
    &namemap_pth_dino,
    &namemap_pth_timm,
};
static const size_t num_layouts = sizeof layouts / sizeof layouts[0];

size_t namemap_layout_count(void) { return num_layouts; }
const ws_name_layout *namemap_layout_at(size_t i) { return i < num_layouts ? layouts[i] : NULL; }

int namemap_match(const char *pattern, const char *name, int *layer) {
    *layer = -1;
    const char *p = pattern, *n = name;
    while (*p) {
        if (p[0] == '*' && p[1] == '\0') return 1;
        if (!strncmp(p, "{i}", 3) || !strncmp(p, "{c}", 3)) {
            if (!isdigit((unsigned char)*n)) return 0;
            long v = 0;
            while (isdigit((unsigned char)*n)) {
                v = v * 10 + (*n++ - '0');
                if (v > 1000000) return 0;
            }
            if (p[1] == 'i') *layer = (int)v;
            p += 3;
            continue;
        }
        if (*p++ != *n++) return 0;
    }
    return *n == '\0';
}

/* Name with the layout's first matching prefix removed. */
static const char *strip_prefix(const ws_name_layout *l, const char *name) {
    for (const char *const *pre = l->prefixes; pre && *pre; pre++) {
        size_t k = strlen(*pre);
        if (!strncmp(name, *pre, k)) return name + k;
    }
    return name;
}

static int is_ignored(const ws_name_layout *l, const char *name) {
    int layer;
    for (const char *const *ig = l->ignore; ig && *ig; ig++)
        if (namemap_match(*ig, name, &layer)) return 1;
    return 0;
}

static const ws_name_entry *find_entry(const ws_name_layout *l, const char *name, int *layer) {
    for (size_t e = 0; e < l->num_entries; e++)
        if (namemap_match(l->entries[e].pattern, name, layer)) return &l->entries[e];
    return NULL;
}

const ws_name_entry *namemap_resolve(const ws_name_layout *l, const char *name, size_t *prefix_len,
                                     int *layer) {
    const char *rest = strip_prefix(l, name);
    *prefix_len = (size_t)(rest - name);
    return find_entry(l, rest, layer);
}

const ws_name_entry *namemap_entry_for(const ws_name_layout *l, ws_field field) {
    for (size_t e = 0; e < l->num_entries; e++)
        if (l->entries[e].field == field && (!l->entries[e].ngroups || !l->entries[e].group0)) return &l->entries[e];
    return NULL;
}

const ws_name_layout *namemap_choose(const ws_ckpt *c, const ws_arch *a) {
    const ws_name_layout *best = NULL;
    size_t best_hits = 0;
    for (size_t k = 0; k < num_layouts; k++) {
        const ws_name_layout *l = layouts[k];
        if (l->family != a->family) continue;
        size_t hits = 0;
        int layer;
        for (size_t t = 0; t < c->num_tensors; t++)
            if (find_entry(l, strip_prefix(l, c->tensors[t].name), &layer)) hits++;
        if (!best || hits > best_hits) {
            best = l;
            best_hits = hits;
        }
    }
    return best;
}

int namemap_expected_shape(const ws_name_entry *e, const ws_arch *a, int64_t dims[WS_CKPT_MAX_DIMS]) {
    int64_t d[4];
    int nd = weights_field_shape(a, e->field, d);
    int groups = weights_field_groups(a, e->field);
    int ng = e->ngroups ? e->ngroups : groups;
    d[0] = d[0] / groups * ng;
    int k = 0;
    for (int i = 0; i < e->lead_ones; i++) dims[k++] = 1;
    for (int i = 0; i < nd; i++) dims[k++] = d[i];
    return k;
}

/* Bounded accumulation of problem lines for one error message. */
typedef struct {
    char buf[4096];
    size_t len;
    int count;
} problems;

static void problem(problems *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(problems *p, const char *fmt, ...) {
    p->count++;
    if (p->len + 1 >= sizeof p->buf) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(p->buf + p->len, sizeof p->buf - p->len, fmt, ap);
    va_end(ap);
    if (n > 0) p->len += (size_t)n < sizeof p->buf - p->len ? (size_t)n : sizeof p->buf - p->len - 1;
}

static void format_shape(char *s, size_t cap, const int64_t *d, int nd) {
    size_t k = (size_t)snprintf(s, cap, "[");
    for (int i = 0; i < nd && k < cap; i++)
        k += (size_t)snprintf(s + k, cap - k, "%s%" PRId64, i ? ", " : "", d[i]);
    if (k < cap) snprintf(s + k, cap - k, "]");
}

void namemap_expand(const ws_name_entry *e, int layer, char *s, size_t cap) {
    size_t k = 0;
    for (const char *p = e->pattern; *p && k + 1 < cap;) {
        if (!strncmp(p, "{i}", 3)) {
            k += (size_t)snprintf(s + k, cap - k, "%d", layer);
            p += 3;
        } else {
            s[k++] = *p++;
        }
    }
    s[k < cap ? k : cap - 1] = '\0';
}

int namemap_bind(const ws_ckpt *c, const ws_name_layout *l, const ws_arch *a,
                 ws_name_binding **out, size_t *count) {
    *out = NULL;
    *count = 0;
    const int L = a->depth;
    /* coverage[field][layer][group]: how many tensors filled that group */
    enum { MAXG = 3 };
    size_t cov_n = (size_t)WS_W_COUNT * (size_t)(L + 1) * MAXG;
    unsigned char *cov = calloc(cov_n, 1);
    ws_name_binding *b = calloc(c->num_tensors ? c->num_tensors : 1, sizeof *b);
    if (!cov || !b) {
        free(cov);
        free(b);
        return ws_errorf(WS_ERR_NOMEM, "%s: out of memory while checking tensor names", c->path);
    }
    problems pr = {.len = 0, .count = 0};
    size_t nb = 0;
    for (size_t t = 0; t < c->num_tensors; t++) {
        const ws_ckpt_tensor *ct = &c->tensors[t];
        const char *name = strip_prefix(l, ct->name);
        int layer;
        const ws_name_entry *e = find_entry(l, name, &layer);
        if (!e) {
            if (!is_ignored(l, name)) problem(&pr, "\n  unknown tensor '%s'", ct->name);
            continue;
        }
        const ws_field_info *fi = weights_field_info(e->field);
        if (!weights_field_present(a, e->field)) {
            problem(&pr, "\n  unexpected tensor '%s': architecture %s has no %s", ct->name, a->name, fi->name);
            continue;
        }
        if (fi->per_layer != (layer >= 0) || layer >= L) {
            problem(&pr, "\n  tensor '%s': layer index out of range (depth %d)", ct->name, L);
            continue;
        }
        /* the slot counts as filled even when the tensor is rejected below: one report each */
        int groups = weights_field_groups(a, e->field);
        int g0 = e->ngroups ? e->group0 : 0, ng = e->ngroups ? e->ngroups : groups;
        int li = layer >= 0 ? layer : L;
        for (int g = g0; g < g0 + ng; g++) {
            unsigned char *slot = &cov[((size_t)e->field * (L + 1) + li) * MAXG + g];
            if (*slot) problem(&pr, "\n  tensor '%s' fills %s (layer %d) a second time", ct->name, fi->name, layer);
            *slot = 1;
        }
        int64_t exp[WS_CKPT_MAX_DIMS];
        int nd = namemap_expected_shape(e, a, exp);
        int same = nd == ct->ndim;
        for (int i = 0; same && i < nd; i++) same = exp[i] == ct->shape[i];
        if (!same) {
            char se[128], sg[128];
            format_shape(se, sizeof se, exp, nd);
            format_shape(sg, sizeof sg, ct->shape, ct->ndim);
            problem(&pr, "\n  tensor '%s' has shape %s, expected %s for %s", ct->name, sg, se, a->name);
            continue;
        }
        if ((unsigned)ct->dtype >= WS_DTYPE_COUNT) {
            problem(&pr, "\n  tensor '%s' has an unsupported dtype (f32, f16, bf16 accepted)", ct->name);
            continue;
        }
        b[nb++] = (ws_name_binding){.tensor = ct, .entry = e, .layer = layer};
    }
    for (int f = 0; f < WS_W_COUNT; f++) {
        if (!weights_field_present(a, (ws_field)f)) continue;
        const ws_field_info *fi = weights_field_info((ws_field)f);
        int groups = weights_field_groups(a, (ws_field)f);
        for (int li = fi->per_layer ? 0 : L; li <= (fi->per_layer ? L - 1 : L); li++)
            for (int g = 0; g < groups; g++) {
                if (cov[((size_t)f * (L + 1) + li) * MAXG + g]) continue;
                /* name the first entry that would have filled it */
                const ws_name_entry *e = NULL;
                int e_end = g + 1;
                for (size_t k = 0; k < l->num_entries && !e; k++) {
                    const ws_name_entry *x = &l->entries[k];
                    int xg0 = x->ngroups ? x->group0 : 0, xng = x->ngroups ? x->ngroups : groups;
                    if (x->field == (ws_field)f && g >= xg0 && g < xg0 + xng) {
                        e = x;
                        e_end = xg0 + xng;
                    }
                }
                if (!e) {
                    problem(&pr, "\n  layout %s cannot provide %s", l->name, fi->name);
                    continue;
                }
                char nm[256], se[128];
                int64_t exp[WS_CKPT_MAX_DIMS];
                int nd = namemap_expected_shape(e, a, exp);
                namemap_expand(e, li, nm, sizeof nm);
                format_shape(se, sizeof se, exp, nd);
                problem(&pr, "\n  missing tensor '%s' %s", nm, se);
                g = e_end - 1;  /* one line per missing tensor, not per group */
            }
    }
    free(cov);
    if (pr.count) {
        free(b);
        return ws_errorf(WS_ERR_SHAPE, "%s: %d problem(s) mapping tensors onto %s (layout %s):%s%s",
                         c->path, pr.count, a->name, l->name, pr.buf,
                         pr.len + 1 >= sizeof pr.buf ? "\n  ..." : "");
    }
    *out = b;
    *count = nb;
    return WS_OK;
}
