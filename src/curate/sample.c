/* Hierarchical balanced sampling from the cluster tree (see sample.h). */
#define _GNU_SOURCE   /* qsort_r */
#include "curate/sample.h"
#include "common/error.h"
#include "curate/cfile.h"
#include "curate/kmeans.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void sample_split(const int64_t *size, int n, int64_t target, uint64_t *state, int64_t *out) {
    int64_t total = 0, hi = 0;
    for (int i = 0; i < n; i++) total += size[i], hi = size[i] > hi ? size[i] : hi;
    if (total <= target) {
        memcpy(out, size, (size_t)n * sizeof *out);
        return;
    }
    int64_t lo = 0;   /* the largest x with sum(min(x, size)) <= target */
    while (hi - lo > 1) {
        const int64_t mid = lo + (hi - lo) / 2;
        int64_t s = 0;
        for (int i = 0; i < n; i++) s += size[i] < mid ? size[i] : mid;
        if (s <= target) lo = mid;
        else hi = mid;
    }
    int64_t s = 0, cand = 0;
    for (int i = 0; i < n; i++) out[i] = size[i] < lo ? size[i] : lo, s += out[i], cand += size[i] > lo;
    /* the rows left over: one each to `left` of the `cand` groups larger than x (selection sampling) */
    for (int i = 0, left = (int)(target - s); i < n && left > 0; i++) {
        if (size[i] <= lo) continue;
        if ((double)cand-- * km_rand_unit(state) < (double)left) out[i]++, left--;
    }
}

typedef struct {
    char **names;       /* shard names (assignment files) */
    int64_t *first;     /* first global row of each */
    int count;
    int64_t rows;
    int32_t *cluster;   /* per global row */
    float *dist;
} assignments;

static void assignments_free(assignments *a) {
    for (int i = 0; i < a->count; i++) free(a->names[i]);
    free(a->names), free(a->first), free(a->cluster), free(a->dist);
    memset(a, 0, sizeof *a);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Path of the assignment file of shard i. */
static void assign_path(const char *cdir, const char *name, char *buf, size_t len) {
    snprintf(buf, len, "%s/assign/%s.h5", cdir, name);
}

static int list_assignments(const char *cdir, assignments *a) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/assign", cdir);
    DIR *d = opendir(dir);
    if (!d) return ws_errorf(WS_ERR_IO, "%s: cannot open (run webssl-dist cluster first)", dir);
    int cap = 0, rc = WS_OK;
    for (struct dirent *e; rc == WS_OK && (e = readdir(d));) {
        const size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len < 4 || strcmp(e->d_name + len - 3, ".h5")) continue;
        if (a->count == cap) {
            cap = cap ? 2 * cap : 64;
            char **n = realloc(a->names, (size_t)cap * sizeof *n);
            if (!n) rc = ws_errorf(WS_ERR_NOMEM, "out of memory");
            else a->names = n;
        }
        if (rc == WS_OK && !(a->names[a->count++] = strndup(e->d_name, len - 3))) rc = ws_errorf(WS_ERR_NOMEM, "out of memory");
    }
    closedir(d);
    if (rc == WS_OK && !a->count) rc = ws_errorf(WS_ERR_ARG, "%s: no assignment files", dir);
    if (rc == WS_OK) qsort(a->names, (size_t)a->count, sizeof *a->names, cmp_str);
    return rc;
}

static int read_assignments(const char *cdir, assignments *a) {
    char path[4400];
    int rc = list_assignments(cdir, a);
    if (rc == WS_OK && !(a->first = malloc((size_t)(a->count + 1) * sizeof *a->first)))
        rc = ws_errorf(WS_ERR_NOMEM, "out of memory");
    for (int i = 0; rc == WS_OK && i < a->count; i++) {   /* pass 1: row counts */
        hid_t f;
        int rank;
        int64_t dims[2];
        assign_path(cdir, a->names[i], path, sizeof path);
        if (i == 0) a->first[0] = 0;
        if ((rc = cfile_open(path, &f))) break;
        rc = cfile_shape(f, path, "cluster", &rank, dims);
        H5Fclose(f);
        a->first[i + 1] = a->first[i] + dims[0];
    }
    if (rc) return rc;
    a->rows = a->first[a->count];
    a->cluster = malloc((size_t)(a->rows ? a->rows : 1) * sizeof *a->cluster);
    a->dist = malloc((size_t)(a->rows ? a->rows : 1) * sizeof *a->dist);
    if (!a->cluster || !a->dist) return ws_errorf(WS_ERR_NOMEM, "out of memory for %lld rows", (long long)a->rows);
    for (int i = 0; rc == WS_OK && i < a->count; i++) {   /* pass 2: clusters and distances */
        hid_t f;
        const int64_t n = a->first[i + 1] - a->first[i];
        assign_path(cdir, a->names[i], path, sizeof path);
        if ((rc = cfile_open(path, &f))) break;
        rc = cfile_read(f, path, "cluster", H5T_NATIVE_INT32, n, a->cluster + a->first[i]);
        if (rc == WS_OK) rc = cfile_read(f, path, "distance", H5T_NATIVE_FLOAT, n, a->dist + a->first[i]);
        H5Fclose(f);
    }
    return rc;
}

/* The cluster tree: k[l] nodes at level l (0-based: level 1 is index 0), parent[l][j] the node of
 * level l+1 above node j of level l (l < levels - 1), size[l][j] the rows below a node. */
typedef struct {
    int levels;
    int k[16];
    int32_t *parent[16];
    int64_t *size[16];
} cluster_tree;

static void tree_free(cluster_tree *t) {
    for (int l = 0; l < 16; l++) free(t->parent[l]), free(t->size[l]);
}

static int read_tree(const char *cdir, const assignments *a, cluster_tree *t) {
    char path[4096];
    snprintf(path, sizeof path, "%s/centroids.h5", cdir);
    hid_t f;
    int64_t k1 = 0;
    int rc = cfile_open(path, &f);
    if (rc) return rc;
    rc = cfile_get_i64(f, path, "k", &k1);
    H5Fclose(f);
    if (rc) return rc;
    t->levels = 1, t->k[0] = (int)k1;
    for (int l = 1; rc == WS_OK && l < 16; l++) {
        snprintf(path, sizeof path, "%s/level%d.h5", cdir, l + 1);
        if (access(path, F_OK) != 0) break;
        int64_t k = 0;
        if ((rc = cfile_open(path, &f))) break;
        rc = cfile_get_i64(f, path, "k", &k);
        if (rc == WS_OK && !(t->parent[l - 1] = malloc((size_t)t->k[l - 1] * sizeof(int32_t))))
            rc = ws_errorf(WS_ERR_NOMEM, "out of memory");
        if (rc == WS_OK) rc = cfile_read(f, path, "parent", H5T_NATIVE_INT32, t->k[l - 1], t->parent[l - 1]);
        H5Fclose(f);
        for (int j = 0; rc == WS_OK && j < t->k[l - 1]; j++)
            if (t->parent[l - 1][j] < 0 || t->parent[l - 1][j] >= k) rc = ws_errorf(WS_ERR_FORMAT, "%s: parent out of range", path);
        t->k[l] = (int)k, t->levels = l + 1;
    }
    for (int l = 0; rc == WS_OK && l < t->levels; l++)
        if (!(t->size[l] = calloc((size_t)t->k[l], sizeof(int64_t)))) rc = ws_errorf(WS_ERR_NOMEM, "out of memory");
    for (int64_t r = 0; rc == WS_OK && r < a->rows; r++) {
        if (a->cluster[r] >= t->k[0]) rc = ws_errorf(WS_ERR_FORMAT, "%s: cluster %d of row %lld is not below k = %d",
                                                     cdir, a->cluster[r], (long long)r, t->k[0]);
        else if (a->cluster[r] >= 0) t->size[0][a->cluster[r]]++;
    }
    for (int l = 1; rc == WS_OK && l < t->levels; l++)
        for (int j = 0; j < t->k[l - 1]; j++) t->size[l][t->parent[l - 1][j]] += t->size[l - 1][j];
    return rc;
}

/* The children of every node, in index order: kids[l] lists the level l-1 nodes under the nodes
 * of level l (l >= 1), those of node c at kids[l][at[l][c] .. at[l][c + 1]); sz and tg are
 * scratch for one split per level. */
typedef struct {
    const cluster_tree *t;
    int32_t *kids[16];
    int64_t *at[16], *sz[16], *tg[16];
    uint64_t *state;
    int64_t *leaf;       /* out: the target of every level-1 cluster */
} splitter;

static void splitter_free(splitter *s) {
    for (int l = 0; l < 16; l++) free(s->kids[l]), free(s->at[l]), free(s->sz[l]), free(s->tg[l]);
}

static int splitter_init(splitter *s, const cluster_tree *t) {
    for (int l = 1; l < t->levels; l++) {
        const int kc = t->k[l - 1];
        s->kids[l] = malloc((size_t)kc * sizeof *s->kids[l]);
        s->at[l] = calloc((size_t)t->k[l] + 2, sizeof *s->at[l]);
        s->sz[l] = malloc((size_t)kc * sizeof *s->sz[l]);
        s->tg[l] = malloc((size_t)kc * sizeof *s->tg[l]);
        if (!s->kids[l] || !s->at[l] || !s->sz[l] || !s->tg[l]) return ws_errorf(WS_ERR_NOMEM, "out of memory");
        for (int j = 0; j < kc; j++) s->at[l][t->parent[l - 1][j] + 2]++;
        for (int c = 0; c < t->k[l]; c++) s->at[l][c + 2] += s->at[l][c + 1];
        for (int j = 0; j < kc; j++) s->kids[l][s->at[l][t->parent[l - 1][j] + 1]++] = j;
    }
    return WS_OK;
}

/* Split `target` rows of node c of level l over its children, then down each child in turn
 * (depth first, the reference's order). */
static void split_node(splitter *s, int l, int c, int64_t target) {
    if (l == 0) {
        s->leaf[c] = target;
        return;
    }
    const int64_t a = s->at[l][c], m = s->at[l][c + 1] - a;
    for (int64_t i = 0; i < m; i++) s->sz[l][i] = s->t->size[l - 1][s->kids[l][a + i]];
    sample_split(s->sz[l], (int)m, target, s->state, s->tg[l]);
    for (int64_t i = 0; i < m; i++) split_node(s, l - 1, s->kids[l][a + i], s->tg[l][i]);
}

/* Targets of every level-1 cluster: the top level split first, then each top cluster down in
 * index order. out[k[0]]. */
static int split_tree(const cluster_tree *t, int64_t target, uint64_t *state, int64_t *out) {
    const int L = t->levels;
    splitter s = {.t = t, .state = state, .leaf = out};
    int64_t *top = malloc((size_t)t->k[L - 1] * sizeof *top);
    int rc = top ? splitter_init(&s, t) : ws_errorf(WS_ERR_NOMEM, "out of memory");
    if (rc == WS_OK) {
        sample_split(t->size[L - 1], t->k[L - 1], target, state, top);
        for (int c = 0; c < t->k[L - 1]; c++) split_node(&s, L - 1, c, top[c]);
    }
    free(top);
    splitter_free(&s);
    return rc;
}

static int cmp_dist(const void *a, const void *b, void *p) {
    const float *d = p;
    const int64_t i = *(const int64_t *)a, j = *(const int64_t *)b;
    if (d[i] != d[j]) return d[i] < d[j] ? -1 : 1;
    return i < j ? -1 : i > j;
}

/* Mark the selected rows: from each level-1 cluster its target, at random or nearest first. */
static int pick_rows(const assignments *a, const cluster_tree *t, const int64_t *target, int closest, uint64_t seed,
                     uint8_t *selected) {
    const int k = t->k[0];
    int64_t *start = calloc((size_t)k + 1, sizeof *start), *rows = malloc((size_t)(a->rows ? a->rows : 1) * 8);
    if (!start || !rows) {
        free(start), free(rows);
        return ws_errorf(WS_ERR_NOMEM, "out of memory");
    }
    for (int c = 0; c < k; c++) start[c + 1] = start[c] + t->size[0][c];
    int64_t *fill = calloc((size_t)k, sizeof *fill);
    for (int64_t r = 0; fill && r < a->rows; r++)
        if (a->cluster[r] >= 0) rows[start[a->cluster[r]] + fill[a->cluster[r]]++] = r;
    free(fill);
    for (int c = 0; c < k; c++) {
        int64_t *m = rows + start[c];
        const int64_t n = start[c + 1] - start[c], want = target[c] < n ? target[c] : n;
        if (closest) {
            qsort_r(m, (size_t)n, sizeof *m, cmp_dist, a->dist);
        } else {
            uint64_t st = seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)(c + 1));
            for (int64_t i = 0; i < want; i++) {   /* partial Fisher-Yates */
                const int64_t j = i + (int64_t)(km_rand(&st) % (uint64_t)(n - i)), tmp = m[i];
                m[i] = m[j], m[j] = tmp;
            }
        }
        for (int64_t i = 0; i < want; i++) selected[m[i]] = 1;
    }
    free(start), free(rows);
    return WS_OK;
}

/* FILE.h5 (key, shard, row, cluster) and FILE.txt (keys), the selected rows in shard order. */
static int write_selection(const sample_options *o, const assignments *a, const uint8_t *selected, int64_t n) {
    char **keys = calloc((size_t)(n ? n : 1), sizeof *keys), **shard = calloc((size_t)(n ? n : 1), sizeof *shard);
    int64_t *row = malloc((size_t)(n ? n : 1) * sizeof *row);
    int32_t *cl = malloc((size_t)(n ? n : 1) * sizeof *cl);
    char txt[4096], tmp[4200], path[4400];
    const size_t len = strlen(o->output);
    snprintf(txt, sizeof txt, "%.*s.txt", (int)(len > 3 && !strcmp(o->output + len - 3, ".h5") ? len - 3 : len), o->output);
    snprintf(tmp, sizeof tmp, "%s.tmp", txt);
    FILE *ft = fopen(tmp, "w");
    int rc = keys && shard && row && cl ? WS_OK : ws_errorf(WS_ERR_NOMEM, "out of memory");
    if (rc == WS_OK && !ft) rc = ws_errorf(WS_ERR_IO, "%s: %s", tmp, strerror(errno));
    int64_t at = 0;
    for (int i = 0; rc == WS_OK && i < a->count; i++) {
        const int64_t r0 = a->first[i], r1 = a->first[i + 1];
        int any = 0;
        for (int64_t r = r0; r < r1 && !any; r++) any = selected[r];
        if (!any) continue;
        hid_t f;
        char **k = malloc((size_t)(r1 - r0) * sizeof *k);
        assign_path(o->clusters, a->names[i], path, sizeof path);
        if (!k) rc = ws_errorf(WS_ERR_NOMEM, "out of memory");
        if (rc == WS_OK && (rc = cfile_open(path, &f)) == WS_OK) {
            rc = cfile_read_strings(f, path, "key", r1 - r0, k);
            H5Fclose(f);
        }
        for (int64_t r = r0; rc == WS_OK && r < r1; r++) {
            if (selected[r]) {
                keys[at] = k[r - r0], shard[at] = a->names[i], row[at] = r - r0, cl[at++] = a->cluster[r];
                fprintf(ft, "%s\n", k[r - r0]);
            } else {
                free(k[r - r0]);
            }
        }
        free(k);
    }
    if (ft && (fclose(ft) != 0 || (rc == WS_OK && rename(tmp, txt) != 0)) && rc == WS_OK)
        rc = ws_errorf(WS_ERR_IO, "%s: cannot write", txt);
    cfile *f = NULL;
    const int64_t dims[1] = {at};
    if (rc == WS_OK) rc = cfile_create(o->output, &f);
    if (rc == WS_OK) rc = cfile_write_strings(f, "key", keys, at);
    if (rc == WS_OK) rc = cfile_write_strings(f, "shard", shard, at);
    if (rc == WS_OK) rc = cfile_write(f, "row", H5T_NATIVE_INT64, H5T_STD_I64LE, 1, dims, row);
    if (rc == WS_OK) rc = cfile_write(f, "cluster", H5T_NATIVE_INT32, H5T_STD_I32LE, 1, dims, cl);
    if (rc == WS_OK) rc = cfile_attr_i64(f, "target", o->target);
    if (rc == WS_OK) rc = cfile_attr_str(f, "strategy", o->closest ? "closest" : "random");
    if (rc == WS_OK) rc = cfile_commit(f);
    else cfile_abort(f);
    for (int64_t i = 0; keys && i < at; i++) free(keys[i]);
    free(keys), free(shard), free(row), free(cl);
    return rc;
}

int sample_run(const sample_options *o, sample_summary *s) {
    memset(s, 0, sizeof *s);
    assignments a = {0};
    cluster_tree t = {0};
    int64_t *target = NULL;
    uint8_t *selected = NULL;
    int rc = read_assignments(o->clusters, &a);
    if (rc == WS_OK) rc = read_tree(o->clusters, &a, &t);
    if (rc == WS_OK) {
        target = malloc((size_t)t.k[0] * sizeof *target);
        selected = calloc((size_t)(a.rows ? a.rows : 1), 1);
        if (!target || !selected) rc = ws_errorf(WS_ERR_NOMEM, "out of memory");
    }
    uint64_t state = o->seed;
    if (rc == WS_OK) rc = split_tree(&t, o->target, &state, target);
    if (rc == WS_OK) rc = pick_rows(&a, &t, target, o->closest, o->seed, selected);
    if (rc == WS_OK) {
        s->rows = a.rows, s->levels = t.levels, s->top_clusters = t.k[t.levels - 1];
        for (int c = 0; c < t.k[0]; c++) s->assigned += t.size[0][c];
        for (int64_t r = 0; r < a.rows; r++) s->selected += selected[r];
        rc = write_selection(o, &a, selected, s->selected);
    }
    free(target), free(selected);
    tree_free(&t);
    assignments_free(&a);
    return rc;
}
