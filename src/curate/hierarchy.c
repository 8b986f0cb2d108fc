/* Levels 2 and up of hierarchical k-means with resampling (see hierarchy.h). */
#define _GNU_SOURCE   /* qsort_r */
#include "curate/hierarchy.h"
#include "common/error.h"
#include "common/log.h"
#include "curate/cfile.h"
#include "curate/kmeans.h"
#include "curate/level_kmeans.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { RESAMPLE_SALT = 0x7273 };

int hierarchy_resample_rows(const cluster_options *o, int l) {
    if (o->resample_rows > 0) return o->resample_rows;
    return (o->k[l - 1] + 2 * o->k[l] - 1) / (2 * o->k[l]);   /* ceil(k_(l-1) / (2 k_l)) */
}

uint64_t hierarchy_seed(uint64_t seed, int level, int step) {
    return seed ^ ((uint64_t)level << 48) ^ ((uint64_t)step << 32) ^ HIERARCHY_SEED_SALT;
}

typedef struct {
    int32_t *idx;      /* cluster of each point of the level */
    double *dist;      /* its squared L2 distance to that centroid */
    int64_t *order;
    double *S;         /* resampled points */
    int by_dist;       /* resampling order within a cluster: 1 nearest first, 0 position */
} level_work;

static int cmp_by_cluster_dist(const void *a, const void *b, void *ctx) {
    const level_work *w = ctx;
    const int64_t i = *(const int64_t *)a, j = *(const int64_t *)b;
    if (w->idx[i] != w->idx[j]) return w->idx[i] < w->idx[j] ? -1 : 1;
    if (w->by_dist && w->dist[i] != w->dist[j]) return w->dist[i] < w->dist[j] ? -1 : 1;
    return i < j ? -1 : i > j;
}

static int cmp_i64(const void *a, const void *b) {
    const int64_t i = *(const int64_t *)a, j = *(const int64_t *)b;
    return i < j ? -1 : i > j;
}

/* `r` points of each cluster, packed into w->S in position order; returns their count. Closest:
 * those nearest its centroid (ties by position); random (`st` non-NULL): a uniform draw without
 * replacement (partial Fisher-Yates over the cluster's points in position order, clusters in
 * index order). */
static int64_t resample(const double *X, int64_t n, int D, int r, uint64_t *st, level_work *w) {
    for (int64_t i = 0; i < n; i++) w->order[i] = i;
    w->by_dist = st == NULL;
    qsort_r(w->order, (size_t)n, sizeof *w->order, cmp_by_cluster_dist, w);
    int64_t m = 0;
    for (int64_t j0 = 0, j1; j0 < n; j0 = j1) {
        for (j1 = j0; j1 < n && w->idx[w->order[j1]] == w->idx[w->order[j0]];) j1++;
        const int64_t size = j1 - j0, take = size < r ? size : r;
        for (int64_t a = 0; st && a < take; a++) {
            const int64_t b = a + (int64_t)(km_rand(st) % (uint64_t)(size - a)), t = w->order[j0 + a];
            w->order[j0 + a] = w->order[j0 + b], w->order[j0 + b] = t;
        }
        for (int64_t a = 0; a < take; a++) w->order[m++] = w->order[j0 + a];
    }
    qsort(w->order, (size_t)m, sizeof *w->order, cmp_i64);
    for (int64_t j = 0; j < m; j++)
        memcpy(w->S + (size_t)j * D, X + (size_t)w->order[j] * D, (size_t)D * sizeof(double));
    return m;
}

static int write_level(const cluster_options *o, int level, const char *params, const double *C, int k, int D,
                       int64_t n, const level_work *w) {
    char path[4096];
    snprintf(path, sizeof path, "%s/level%d.h5", o->output, level);
    float *Cf = malloc((size_t)k * D * sizeof *Cf), *df = malloc((size_t)n * sizeof *df);
    int64_t *counts = calloc((size_t)k, sizeof *counts);
    cfile *f = NULL;
    int rc = Cf && df && counts ? WS_OK : ws_errorf(WS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == WS_OK && i < (size_t)k * D; i++) Cf[i] = (float)C[i];
    for (int64_t i = 0; rc == WS_OK && i < n; i++)
        df[i] = (float)(w->dist[i] > 0.0 ? w->dist[i] : 0.0), counts[w->idx[i]]++;
    if (rc == WS_OK) rc = cfile_create(path, &f);
    const int64_t cd[2] = {k, D}, nd[1] = {n};
    if (rc == WS_OK) rc = cfile_write(f, "centroids", H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, 2, cd, Cf);
    if (rc == WS_OK) rc = cfile_write(f, "parent", H5T_NATIVE_INT32, H5T_STD_I32LE, 1, nd, w->idx);
    if (rc == WS_OK) rc = cfile_write(f, "distance", H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, 1, nd, df);
    if (rc == WS_OK) rc = cfile_write(f, "counts", H5T_NATIVE_INT64, H5T_STD_I64LE, 1, cd, counts);
    if (rc == WS_OK) rc = cfile_attr_str(f, "params", params);
    if (rc == WS_OK) rc = cfile_attr_i64(f, "level", level);
    if (rc == WS_OK) rc = cfile_attr_i64(f, "k", k);
    if (rc == WS_OK) rc = cfile_commit(f);
    else if (f) cfile_abort(f);
    free(Cf), free(df), free(counts);
    return rc;
}

/* One level (0-based l >= 1): k-means of X[n, D] into C[k, D] from a k-means++ start, then the
 * resampling steps, each a fresh k-means++ and Lloyd run on the points nearest their centroids;
 * the final assignment of every point in w. *steps_run gets the resampling steps made. */
static int cluster_level(const cluster_options *o, const ws_topology *t, int l, const double *X, int64_t n, int D,
                         double *C, level_work *w, int *steps_run) {
    const int k = o->k[l], r = hierarchy_resample_rows(o, l);
    int rc = lk_train(t->world, X, n, k, D, o->level_iters, hierarchy_seed(o->seed, l + 1, 0), C);
    if (rc == WS_OK) rc = lk_assign(t->world, X, n, C, k, D, w->idx, w->dist);
    *steps_run = 0;
    /* one point per cluster would make each its own centroid: the reference skips r <= 1 too */
    for (int step = 1; rc == WS_OK && r > 1 && step <= o->resample_steps; step++) {
        uint64_t st = hierarchy_seed(o->seed, l + 1, step) ^ RESAMPLE_SALT;
        const int64_t m = resample(X, n, D, r, o->resample_random ? &st : NULL, w);
        if (m < k) break;   /* fewer points than clusters (many empty clusters): keep the last centroids */
        rc = lk_train(t->world, w->S, m, k, D, o->level_iters, hierarchy_seed(o->seed, l + 1, step), C);
        if (rc == WS_OK) rc = lk_assign(t->world, X, n, C, k, D, w->idx, w->dist);
        if (rc == WS_OK) ++*steps_run;
    }
    return rc;
}

int hierarchy_run(const cluster_options *o, const ws_topology *t, const float *C1, int D) {
    const int64_t n1 = o->k[0];
    double *X = malloc((size_t)n1 * D * sizeof *X), *C = malloc((size_t)n1 * D * sizeof *C);
    level_work w = {.idx = malloc((size_t)n1 * sizeof(int32_t)), .dist = malloc((size_t)n1 * sizeof(double)),
                    .order = malloc((size_t)n1 * sizeof(int64_t)), .S = malloc((size_t)n1 * D * sizeof(double))};
    int rc = X && C && w.idx && w.dist && w.order && w.S ? WS_OK : ws_errorf(WS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == WS_OK && i < (size_t)n1 * D; i++) X[i] = C1[i];
    int64_t n = n1;
    for (int l = 1; rc == WS_OK && l < o->levels; l++) {
        const int k = o->k[l];
        int steps = 0;
        rc = cluster_level(o, t, l, X, n, D, C, &w, &steps);
        char params[512];
        snprintf(params, sizeof params, "level=%d k=%d from=%lld metric=l2 init=kmeans++ level_iters=%d "
                 "resample_steps=%d resample_rows=%d resample_from=%s steps_run=%d seed=%llu", l + 1, k, (long long)n,
                 o->level_iters, o->resample_steps, hierarchy_resample_rows(o, l),
                 o->resample_random ? "random" : "closest", steps, (unsigned long long)o->seed);
        if (rc == WS_OK && t->world_rank == 0) rc = write_level(o, l + 1, params, C, k, D, n, &w);
        rc = topology_agree(t->world, rc);
        if (rc == WS_OK && o->verbose && t->world_rank == 0)
            ws_log(WS_LOG_INFO, "level %d: %lld centroids of level %d into %d clusters, %d resampling steps of %d "
                   "points per cluster", l + 1, (long long)n, l, k, steps, hierarchy_resample_rows(o, l));
        memcpy(X, C, (size_t)k * D * sizeof *X);
        n = k;
    }
    free(X), free(C), free(w.idx), free(w.dist), free(w.order), free(w.S);
    return rc;
}
