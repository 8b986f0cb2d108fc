/* The `cluster` command's engine: training sample, k-means, centroids, assignment (see cluster.h). */
#include "curate/cluster.h"
#include "common/error.h"
#include "common/log.h"
#include "curate/assign.h"
#include "curate/cfile.h"
#include "curate/emb_set.h"
#include "curate/hierarchy.h"
#include "curate/kmeans.h"
#include "curate/train_rows.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int curate_backend(const char *device, int threads, const ws_topology *t, ws_backend **be) {
    int count = backend_device_count(device);
    if (count < 0) return ws_error_context(count, "--device %s", device);
    if (count == 0) return ws_errorf(WS_ERR_DEVICE, "--device %s: no device visible", device);
    return backend_create(device, threads, t->local_rank % count, be);
}

static int make_dir(const char *path) {
    if (mkdir(path, 0777) == 0 || errno == EEXIST) return WS_OK;
    return ws_errorf(WS_ERR_IO, "%s: cannot create directory: %s", path, strerror(errno));
}

/* The parameters that decide the level-1 centroids, but for the iteration count (a checkpoint of
 * the same run at any iteration continues under a larger --iters); with_iters adds it (the finished
 * centroids and the assignments made from them). */
static void describe(const cluster_options *o, const emb_set *set, int with_iters, char *buf, size_t len) {
    int n = snprintf(buf, len, "k=%d metric=%s feature=%s D=%d rows=%lld max_per_centroid=%d seed=%llu init=%s",
                     o->k[0], o->metric == KM_COSINE ? "cosine" : "l2", set->feature, set->D, (long long)set->rows,
                     o->max_per_centroid, (unsigned long long)o->seed, o->init ? o->init : "rows");
    if (with_iters && n >= 0 && (size_t)n < len) snprintf(buf + n, len - (size_t)n, " iters=%d", o->iters);
}

/* Initial centroids from --init FILE: dataset `centroids` [k, D] (read by rank 0, broadcast). */
static int read_init(const cluster_options *o, const ws_topology *t, int D, float *C) {
    int rc = WS_OK;
    if (t->world_rank == 0) {
        hid_t f;
        rc = cfile_open_any(o->init, &f);
        int rank;
        int64_t dims[2];
        if (rc == WS_OK) {
            rc = cfile_shape(f, o->init, "centroids", &rank, dims);
            if (rc == WS_OK && (rank != 2 || dims[0] != o->k[0] || dims[1] != D))
                rc = ws_errorf(WS_ERR_ARG, "--init %s: 'centroids' is [%lld, %lld], expected [%d, %d] (--k, the "
                               "embedding dimension)", o->init, (long long)dims[0], (long long)dims[1], o->k[0], D);
            if (rc == WS_OK) rc = cfile_read(f, o->init, "centroids", H5T_NATIVE_FLOAT, (int64_t)o->k[0] * D, C);
            H5Fclose(f);
        }
    }
    rc = topology_agree(t->world, rc);
    if (rc == WS_OK) MPI_Bcast(C, (int)((size_t)o->k[0] * D), MPI_FLOAT, 0, t->world);
    return rc;
}

static int write_centroids(const char *path, const cluster_options *o, const char *params, const float *C,
                           const int64_t *counts, int D, double objective) {
    cfile *f;
    int rc = cfile_create(path, &f);
    if (rc) return rc;
    const int64_t dims[2] = {o->k[0], D};
    rc = cfile_write(f, "centroids", H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, 2, dims, C);
    if (rc == WS_OK) rc = cfile_write(f, "counts", H5T_NATIVE_INT64, H5T_STD_I64LE, 1, dims, counts);
    if (rc == WS_OK) rc = cfile_attr_str(f, "params", params);
    if (rc == WS_OK) rc = cfile_attr_i64(f, "k", o->k[0]);
    if (rc == WS_OK) rc = cfile_attr_str(f, "metric", o->metric == KM_COSINE ? "cosine" : "l2");
    if (rc == WS_OK) rc = cfile_attr_str(f, "feature", o->feature);
    if (rc == WS_OK) rc = cfile_attr_str(f, "input", o->input);
    if (rc == WS_OK) rc = cfile_attr_f64(f, "objective", objective);
    if (rc == WS_OK) rc = cfile_attr_i64(f, "seed", (int64_t)o->seed);
    if (rc == WS_OK) return cfile_commit(f);
    cfile_abort(f);
    return rc;
}

/* Centroids of a finished training with the same parameters: 1 and C filled; 0 when none. */
static int finished_centroids(const char *path, const char *params, float *C, int k, int D) {
    hid_t f;
    if (access(path, F_OK) != 0 || cfile_open(path, &f)) return 0;
    char p[2048];
    const int same = cfile_get_str(f, path, "params", p, sizeof p) == WS_OK && !strcmp(p, params) &&
                     cfile_read(f, path, "centroids", H5T_NATIVE_FLOAT, (int64_t)k * D, C) == WS_OK;
    H5Fclose(f);
    return same;
}

/* Level 1: train (or take the finished centroids), write centroids.h5. C[k, D] out; params (the
 * centroids' description, for the assignment files) into params[2048]. */
static int train_level1(const cluster_options *o, const ws_topology *t, const emb_set *set, ws_backend *be,
                        float *C, char *params, cluster_summary *sum) {
    const int k = o->k[0], D = set->D;
    char ckpt_params[2048], path[4096], ckpt[4096];
    describe(o, set, 1, params, 2048);
    describe(o, set, 0, ckpt_params, sizeof ckpt_params);
    snprintf(path, sizeof path, "%s/centroids.h5", o->output);
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.h5", o->output);
    int done = t->world_rank == 0 ? finished_centroids(path, params, C, k, D) : 0;
    MPI_Bcast(&done, 1, MPI_INT, 0, t->world);
    if (done) {
        MPI_Bcast(C, (int)((size_t)k * D), MPI_FLOAT, 0, t->world);
        sum->start_iter = o->iters;
        return WS_OK;
    }
    train_rows tr;
    int rc = train_rows_load(set, (int64_t)k * o->max_per_centroid, o->seed, o->metric == KM_COSINE, t->world, &tr);
    if (rc) return rc;
    sum->train_rows = tr.total;
    if (tr.total < k) {
        rc = ws_errorf(WS_ERR_ARG, "--k %d: larger than the %lld usable rows drawn from %s (%lld rows in all; the "
                       "others failed, are non-finite or zero)", k, (long long)tr.total, o->input, (long long)set->rows);
        train_rows_free(&tr);
        return rc;
    }
    km_config cfg = {.k = k, .D = D, .metric = o->metric, .iters = o->iters, .seed = o->seed, .checkpoint = ckpt,
                     .params = ckpt_params, .verbose = o->verbose};
    int64_t *counts = malloc((size_t)k * sizeof *counts);
    km_result res;
    rc = counts ? WS_OK : ws_errorf(WS_ERR_NOMEM, "out of memory");
    if (rc == WS_OK && o->init) rc = read_init(o, t, D, C);
    else if (rc == WS_OK) rc = km_init_rows(t->world, tr.X, tr.first, tr.n, tr.total, k, D, o->seed, C);
    if (rc == WS_OK) rc = km_train(&cfg, be, t->world, tr.X, tr.n, C, counts, &res);
    train_rows_free(&tr);
    if (rc == WS_OK) {
        sum->objective = res.objective, sum->start_iter = res.start_iter, sum->splits = res.splits;
        sum->train_seconds = res.seconds;
        rc = topology_agree(t->world, t->world_rank == 0 ? write_centroids(path, o, params, C, counts, D, res.objective) : WS_OK);
    }
    free(counts);
    return rc;
}

int cluster_run(const cluster_options *o, const ws_topology *t, cluster_summary *sum) {
    memset(sum, 0, sizeof *sum);
    emb_set set;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/assign", o->output);
    int rc = emb_set_open(o->input, o->feature, &set);
    if (rc == WS_OK && t->world_rank == 0) {
        rc = make_dir(o->output);
        if (rc == WS_OK) rc = make_dir(dir);
    }
    rc = topology_agree(t->world, rc);
    if (rc) {
        emb_set_free(&set);
        return rc;
    }
    sum->rows = set.rows;
    ws_backend *be = NULL;
    float *C = malloc((size_t)o->k[0] * set.D * sizeof(float));
    rc = C ? curate_backend(o->device, o->threads, t, &be) : ws_errorf(WS_ERR_NOMEM, "out of memory");
    rc = topology_agree(t->world, rc);
    char params[2048];
    if (rc == WS_OK) rc = train_level1(o, t, &set, be, C, params, sum);
    assign_stats as = {0};
    const double t0 = MPI_Wtime();
    if (rc == WS_OK) rc = assign_run(&set, be, o->metric, C, o->k[0], params, dir, t->world, &as);
    sum->assign_seconds = MPI_Wtime() - t0;
    sum->written_shards = as.written_shards, sum->skipped_shards = as.skipped_shards, sum->assigned = as.assigned;
    if (rc == WS_OK && o->levels > 1) rc = hierarchy_run(o, t, C, set.D);
    backend_free(be);
    free(C);
    emb_set_free(&set);
    return rc;
}
