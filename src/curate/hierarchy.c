/* Levels 2 and up of hierarchical k-means with resampling (see hierarchy.h). */
#define _GNU_SOURCE   /* qsort_r */
#include "curate/hierarchy.h"
#include "common/error.h"
#include "common/log.h"
#include "curate/cfile.h"
#include "curate/kmeans.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int32_t *idx;
    float *dist;
    int64_t *counts;
    float *S;          /* resampled points */
    int64_t *order;
} level_work;

static int cmp_by_cluster_dist(const void *a, const void *b, void *ctx) {
    const level_work *w = ctx;
    const int64_t i = *(const int64_t *)a, j = *(const int64_t *)b;
    if (w->idx[i] != w->idx[j]) return w->idx[i] < w->idx[j] ? -1 : 1;
    if (w->dist[i] != w->dist[j]) return w->dist[i] < w->dist[j] ? -1 : 1;
    return i < j ? -1 : i > j;
}

/* The `r` points of each cluster closest to its centroid, packed into w->S; returns their count. */
static int64_t resample(const float *X, int64_t n, int D, int r, level_work *w) {
    for (int64_t i = 0; i < n; i++) w->order[i] = i;
    qsort_r(w->order, (size_t)n, sizeof *w->order, cmp_by_cluster_dist, w);
    int64_t m = 0;
    for (int64_t j = 0, taken = 0; j < n; j++) {
        const int64_t i = w->order[j];
        taken = j > 0 && w->idx[w->order[j - 1]] == w->idx[i] ? taken + 1 : 0;
        if (taken < r) memcpy(w->S + (size_t)m++ * D, X + (size_t)i * D, (size_t)D * sizeof(float));
    }
    return m;
}

static int assign_points(ws_backend *be, km_metric metric, const float *C, int k, int D, const float *X, int64_t n,
                         level_work *w) {
    nearest *nn;
    int rc = nearest_create(be, metric, C, k, D, 0, &nn);
    if (rc == WS_OK) rc = nearest_run(nn, X, NULL, n, w->idx, w->dist);
    nearest_free(nn);
    memset(w->counts, 0, (size_t)k * sizeof *w->counts);
    for (int64_t i = 0; rc == WS_OK && i < n; i++) w->counts[w->idx[i]]++;
    return rc;
}

static int write_level(const cluster_options *o, int level, const char *params, const float *C, int k, int D,
                       int64_t n, const level_work *w) {
    char path[4096];
    snprintf(path, sizeof path, "%s/level%d.h5", o->output, level);
    cfile *f;
    int rc = cfile_create(path, &f);
    if (rc) return rc;
    const int64_t cd[2] = {k, D}, nd[1] = {n};
    rc = cfile_write(f, "centroids", H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, 2, cd, C);
    if (rc == WS_OK) rc = cfile_write(f, "parent", H5T_NATIVE_INT32, H5T_STD_I32LE, 1, nd, w->idx);
    if (rc == WS_OK) rc = cfile_write(f, "distance", H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, 1, nd, w->dist);
    if (rc == WS_OK) rc = cfile_write(f, "counts", H5T_NATIVE_INT64, H5T_STD_I64LE, 1, cd, w->counts);
    if (rc == WS_OK) rc = cfile_attr_str(f, "params", params);
    if (rc == WS_OK) rc = cfile_attr_i64(f, "level", level);
    if (rc == WS_OK) rc = cfile_attr_i64(f, "k", k);
    if (rc == WS_OK) return cfile_commit(f);
    cfile_abort(f);
    return rc;
}

/* One level: k-means of X[n, D] into C[k, D], resampling steps, final assignment in w. */
static int cluster_level(const cluster_options *o, ws_backend *be, int level, const float *X, int64_t n, int k, int D,
                         float *C, level_work *w) {
    const uint64_t seed = o->seed + (uint64_t)level;
    km_config cfg = {.k = k, .D = D, .metric = o->metric, .iters = o->iters, .seed = seed};
    km_result res;
    int rc = km_init_rows(MPI_COMM_SELF, X, 0, n, n, k, D, seed, C);
    if (rc == WS_OK) rc = km_train(&cfg, be, MPI_COMM_SELF, X, n, C, NULL, &res);
    for (int step = 0; rc == WS_OK && step < o->resample_steps; step++) {
        rc = assign_points(be, o->metric, C, k, D, X, n, w);
        const int64_t m = rc == WS_OK ? resample(X, n, D, o->resample_rows, w) : 0;
        if (rc == WS_OK) rc = km_train(&cfg, be, MPI_COMM_SELF, w->S, m, C, NULL, &res);
    }
    if (rc == WS_OK) rc = assign_points(be, o->metric, C, k, D, X, n, w);
    return rc;
}

int hierarchy_run(const cluster_options *o, const ws_topology *t, ws_backend *be, const float *C1, int D) {
    const int64_t n1 = o->k[0];
    float *X = malloc((size_t)n1 * D * sizeof(float)), *C = malloc((size_t)n1 * D * sizeof(float));
    level_work w = {.idx = malloc((size_t)n1 * sizeof(int32_t)), .dist = malloc((size_t)n1 * sizeof(float)),
                    .counts = malloc((size_t)n1 * sizeof(int64_t)), .S = malloc((size_t)n1 * D * sizeof(float)),
                    .order = malloc((size_t)n1 * sizeof(int64_t))};
    int rc = X && C && w.idx && w.dist && w.counts && w.S && w.order ? WS_OK : ws_errorf(WS_ERR_NOMEM, "out of memory");
    if (rc == WS_OK) memcpy(X, C1, (size_t)n1 * D * sizeof(float));
    int64_t n = n1;
    for (int l = 1; rc == WS_OK && l < o->levels; l++) {
        const int k = o->k[l];
        char params[512];
        snprintf(params, sizeof params, "level=%d k=%d from=%lld iters=%d resample_steps=%d resample_rows=%d seed=%llu",
                 l + 1, k, (long long)n, o->iters, o->resample_steps, o->resample_rows, (unsigned long long)o->seed);
        rc = cluster_level(o, be, l + 1, X, n, k, D, C, &w);
        if (rc == WS_OK && t->world_rank == 0) rc = write_level(o, l + 1, params, C, k, D, n, &w);
        rc = topology_agree(t->world, rc);
        if (rc == WS_OK && o->verbose && t->world_rank == 0)
            ws_log(WS_LOG_INFO, "level %d: %lld centroids of level %d into %d clusters", l + 1, (long long)n, l, k);
        memcpy(X, C, (size_t)k * D * sizeof(float));
        n = k;
    }
    free(X), free(C), free(w.idx), free(w.dist), free(w.counts), free(w.S), free(w.order);
    return rc;
}
