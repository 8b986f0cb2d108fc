/* Data-parallel k-means with exact reductions and per-iteration checkpoints (see kmeans.h). */
#include "curate/kmeans.h"
#include "common/error.h"
#include "common/log.h"
#include "comm/topology.h"
#include "curate/cfile.h"
#include "curate/exact_sum.h"

#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { SPLIT_SEED_SALT = 0x5b1 };
static const double SPLIT_EPS = 1.0 / 1024.0;

void km_choose(uint64_t seed, int64_t n, int64_t s, int64_t *out) {
    uint64_t st = seed;
    int64_t got = 0;
    for (int64_t i = 0; i < n && got < s; i++)
        if ((double)(n - i) * km_rand_unit(&st) < (double)(s - got)) out[got++] = i;
}

int km_init_rows(MPI_Comm comm, const float *X, int64_t first, int64_t n, int64_t total, int k, int D,
                 uint64_t seed, float *C) {
    int64_t *pos = malloc((size_t)k * sizeof *pos);
    if (!pos) return ws_errorf(WS_ERR_NOMEM, "out of memory");
    km_choose(seed, total, k, pos);
    /* a random order of the chosen rows (faiss takes the first k of a permutation) */
    uint64_t st = seed ^ 0xa5a5a5a5ull;
    for (int i = k - 1; i > 0; i--) {
        const int j = (int)(km_rand(&st) % (uint64_t)(i + 1));
        const int64_t t = pos[i];
        pos[i] = pos[j], pos[j] = t;
    }
    memset(C, 0, (size_t)k * D * sizeof(float));
    for (int c = 0; c < k; c++)
        if (pos[c] >= first && pos[c] < first + n) memcpy(C + (size_t)c * D, X + (size_t)(pos[c] - first) * D, (size_t)D * sizeof(float));
    free(pos);
    /* one rank holds each row, the others add zeros: the sum is that row, exactly */
    if (MPI_Allreduce(MPI_IN_PLACE, C, (int)((size_t)k * D), MPI_FLOAT, MPI_SUM, comm) != MPI_SUCCESS)
        return ws_errorf(WS_ERR_COMM, "k-means: broadcast of the initial centroids failed");
    return WS_OK;
}

/* Refill empty clusters by splitting large ones (faiss's rule, see kmeans.h). Returns the number refilled. */
static int split_empty(float *C, int64_t *counts, int k, int D, int64_t n_total, uint64_t seed, int iter) {
    uint64_t st = seed ^ ((uint64_t)SPLIT_SEED_SALT << 32) ^ (uint64_t)iter;
    int splits = 0, splittable = 0;
    for (int c = 0; c < k; c++) splittable |= counts[c] > 1;
    for (int ci = 0; ci < k && splittable && n_total > k; ci++) {
        if (counts[ci]) continue;
        int cj = 0;
        for (;; cj = (cj + 1) % k) {
            const double p = (double)(counts[cj] - 1) / (double)(n_total - k);
            if (km_rand_unit(&st) < p) break;
        }
        float *a = C + (size_t)ci * D, *b = C + (size_t)cj * D;
        memcpy(a, b, (size_t)D * sizeof(float));
        for (int d = 0; d < D; d++) {
            const double up = 1.0 + SPLIT_EPS, down = 1.0 - SPLIT_EPS;
            a[d] = (float)(a[d] * (d % 2 == 0 ? up : down));
            b[d] = (float)(b[d] * (d % 2 == 0 ? down : up));
        }
        counts[ci] = counts[cj] / 2;
        counts[cj] -= counts[ci];
        splits++;
    }
    return splits;
}

static void normalise_rows(float *C, int k, int D) {
    for (int c = 0; c < k; c++) {
        double s = 0.0;
        for (int d = 0; d < D; d++) s += (double)C[(size_t)c * D + d] * C[(size_t)c * D + d];
        if (s > 0.0)
            for (int d = 0; d < D; d++) C[(size_t)c * D + d] = (float)(C[(size_t)c * D + d] / sqrt(s));
    }
}

/* The checkpoint's fsync and rename run on a thread of their own while the next iteration
 * computes (an fsync waits on the disk, on a busy one longer than an iteration of a small set
 * takes); the next checkpoint waits for it first (both use the same temporary name), and so does
 * the end of training. A kill meanwhile leaves the previous checkpoint, one iteration older: the
 * rerun computes that iteration again, to the same bits. */
typedef struct {
    pthread_t thread;
    int running, rc;
    cfile *f;
    char msg[1024];   /* the thread's error message (messages are per thread) */
} ckpt_sync;

static void *sync_main(void *arg) {
    ckpt_sync *s = arg;
    s->rc = cfile_sync(s->f);
    if (s->rc) snprintf(s->msg, sizeof s->msg, "%s", ws_error_message());
    return NULL;
}

static int sync_wait(ckpt_sync *s) {
    if (!s->running) return WS_OK;
    pthread_join(s->thread, NULL);
    s->running = 0;
    return s->rc ? ws_errorf(s->rc, "%s", s->msg) : WS_OK;
}

static int write_checkpoint(const km_config *cfg, const float *C, int iter, double obj, ckpt_sync *s) {
    cfile *f;
    int rc = sync_wait(s);
    if (rc || (rc = cfile_create(cfg->checkpoint, &f))) return rc;
    const int64_t dims[2] = {cfg->k, cfg->D};
    rc = cfile_write(f, "centroids", H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, 2, dims, C);
    if (rc == WS_OK) rc = cfile_attr_i64(f, "iteration", iter);
    if (rc == WS_OK) rc = cfile_attr_f64(f, "objective", obj);
    if (rc == WS_OK) rc = cfile_attr_str(f, "params", cfg->params ? cfg->params : "");
    if (rc) {
        cfile_abort(f);
        return rc;
    }
    if ((rc = cfile_close(f))) return rc;
    s->f = f;
    if (pthread_create(&s->thread, NULL, sync_main, s) != 0) return cfile_sync(f);   /* no thread: in line */
    s->running = 1;
    return WS_OK;
}

/* Rank 0 reads the checkpoint if there is one; *iter = 0 when none. */
static int read_checkpoint(const km_config *cfg, float *C, int *iter) {
    *iter = 0;
    if (!cfg->checkpoint || access(cfg->checkpoint, F_OK) != 0) return WS_OK;
    hid_t f;
    int rc = cfile_open(cfg->checkpoint, &f);
    if (rc) return rc;
    char params[2048];
    int64_t it = 0;
    rc = cfile_get_str(f, cfg->checkpoint, "params", params, sizeof params);
    if (rc == WS_OK && strcmp(params, cfg->params ? cfg->params : ""))
        rc = ws_errorf(WS_ERR_ARG, "%s: a checkpoint of another run (%s; this run: %s): use another output "
                       "directory or remove it", cfg->checkpoint, params, cfg->params ? cfg->params : "");
    if (rc == WS_OK) rc = cfile_get_i64(f, cfg->checkpoint, "iteration", &it);
    if (rc == WS_OK) rc = cfile_read(f, cfg->checkpoint, "centroids", H5T_NATIVE_FLOAT, (int64_t)cfg->k * cfg->D, C);
    H5Fclose(f);
    if (rc == WS_OK) *iter = (int)(it < cfg->iters ? it : cfg->iters);
    return rc;
}

/* Checkpoint state at the start: rank 0 reads, every rank agrees and receives it. */
static int resume(const km_config *cfg, MPI_Comm comm, float *C, int *iter) {
    int rank;
    MPI_Comm_rank(comm, &rank);
    int rc = rank == 0 ? read_checkpoint(cfg, C, iter) : WS_OK;
    rc = topology_agree(comm, rc);
    if (rc) return rc;
    if (MPI_Bcast(iter, 1, MPI_INT, 0, comm) != MPI_SUCCESS ||
        MPI_Bcast(C, (int)((size_t)cfg->k * cfg->D), MPI_FLOAT, 0, comm) != MPI_SUCCESS)
        return ws_errorf(WS_ERR_COMM, "k-means: broadcast of the checkpoint failed");
    return WS_OK;
}

typedef struct {
    int32_t *idx;            /* [block] */
    float *dist;             /* [block] */
    double *sqnorm;          /* [n] |x|^2 (L2), computed once */
    int64_t *sums, *counts;  /* [k * D + k] (the counts travel at the tail), [k] */
} km_work;

static void work_free(km_work *w) {
    free(w->idx), free(w->dist), free(w->sqnorm), free(w->sums), free(w->counts);
}

static int work_alloc(km_work *w, const float *X, int64_t n, int k, int D, int block, km_metric metric) {
    memset(w, 0, sizeof *w);
    w->idx = malloc((size_t)block * sizeof *w->idx);
    w->dist = malloc((size_t)block * sizeof *w->dist);
    w->sqnorm = metric == KM_L2 ? malloc((size_t)(n ? n : 1) * sizeof *w->sqnorm) : NULL;
    w->sums = malloc(((size_t)k * D + k) * sizeof *w->sums);
    w->counts = malloc((size_t)k * sizeof *w->counts);
    if (!w->idx || !w->dist || (metric == KM_L2 && !w->sqnorm) || !w->sums || !w->counts) {
        work_free(w);
        return ws_errorf(WS_ERR_NOMEM, "k-means: out of memory for %lld rows and %d x %d sums", (long long)n, k, D);
    }
    for (int64_t i = 0; w->sqnorm && i < n; i++) {
        double s = 0.0;
        for (int d = 0; d < D; d++) s += (double)X[(size_t)i * D + d] * X[(size_t)i * D + d];
        w->sqnorm[i] = s;
    }
    return WS_OK;
}

/* Assign this rank's rows block by block and add each block into the fixed-point sums (order-free)
 * while its rows are still in cache from the GEMM; counts and the objective too. */
static int assign_sum(nearest *nn, const float *X, int64_t n, int k, int D, float scale, km_work *w, double *obj) {
    memset(w->sums, 0, (size_t)k * D * sizeof *w->sums);
    memset(w->counts, 0, (size_t)k * sizeof *w->counts);
    double o = 0.0;
    const int B = nearest_block(nn);
    for (int64_t r0 = 0; r0 < n; r0 += B) {
        const int64_t m = n - r0 < B ? n - r0 : B;
        const float *x = X + (size_t)r0 * D;
        const int rc = nearest_run(nn, x, w->sqnorm ? w->sqnorm + r0 : NULL, m, w->idx, w->dist);
        if (rc) return rc;
        exact_sum_rows(w->sums, x, w->idx, m, D, scale);
        for (int64_t i = 0; i < m; i++)
            if (w->idx[i] >= 0) w->counts[w->idx[i]]++, o += w->dist[i];
    }
    *obj = o;
    return WS_OK;
}

/* One iteration: assign, reduce, update C. *obj receives the objective of this assignment. */
static int iterate(const km_config *cfg, nearest *nn, MPI_Comm comm, const float *X, int64_t n, int64_t n_total,
                   float scale, int iter, km_work *w, float *C, double *obj, int *splits, int64_t *counts_out) {
    const int k = cfg->k, D = cfg->D;
    double o;
    int rc = topology_agree(comm, assign_sum(nn, X, n, k, D, scale, w, &o));
    if (rc) return rc;
    int64_t *tail = w->sums + (size_t)k * D;   /* counts travel with the sums: one all-reduce */
    memcpy(tail, w->counts, (size_t)k * sizeof *tail);
    if ((rc = exact_sum_allreduce(comm, w->sums, (size_t)k * D + k))) return rc;
    if ((rc = exact_sum_doubles(comm, &o, 1))) return rc;
    memcpy(w->counts, tail, (size_t)k * sizeof *tail);
    if (counts_out) memcpy(counts_out, w->counts, (size_t)k * sizeof *counts_out);   /* before the splits */
    for (int c = 0; c < k; c++) {
        if (!w->counts[c]) continue;
        const double inv = 1.0 / ((double)w->counts[c] * (double)scale);
        for (int d = 0; d < D; d++) C[(size_t)c * D + d] = (float)((double)w->sums[(size_t)c * D + d] * inv);
    }
    *splits += split_empty(C, w->counts, k, D, n_total, cfg->seed, iter);
    if (cfg->metric == KM_COSINE) normalise_rows(C, k, D);
    *obj = o;
    return nearest_set_centroids(nn, C);
}

int km_train(const km_config *cfg, ws_backend *be, MPI_Comm comm, const float *X, int64_t n, float *C,
             int64_t *counts, km_result *res) {
    memset(res, 0, sizeof *res);
    const int k = cfg->k, D = cfg->D;
    int rank, rc = resume(cfg, comm, C, &res->start_iter);
    if (rc) return rc;
    MPI_Comm_rank(comm, &rank);
    int64_t n_total = n;
    double maxabs = 0.0;
    for (size_t i = 0; i < (size_t)n * D; i++) maxabs = fmax(maxabs, fabs(X[i]));
    if (MPI_Allreduce(MPI_IN_PLACE, &n_total, 1, MPI_INT64_T, MPI_SUM, comm) != MPI_SUCCESS ||
        (rc = exact_sum_max(comm, &maxabs)))
        return rc ? rc : ws_errorf(WS_ERR_COMM, "k-means: all-reduce of the row count failed");
    const int e = exact_sum_exponent(maxabs, n_total);
    const float scale = ldexpf(1.0f, e);
    km_work w = {0};
    nearest *nn = NULL;
    rc = nearest_create(be, cfg->metric, C, k, D, 0, &nn);
    if (rc == WS_OK) rc = work_alloc(&w, X, n, k, D, nearest_block(nn), cfg->metric);
    rc = topology_agree(comm, rc);
    ckpt_sync sync = {0};
    const double t0 = MPI_Wtime();
    for (int it = res->start_iter; rc == WS_OK && it < cfg->iters; it++) {
        rc = iterate(cfg, nn, comm, X, n, n_total, scale, it, &w, C, &res->objective, &res->splits, counts);
        if (rc == WS_OK && cfg->verbose && rank == 0)
            ws_log(WS_LOG_INFO, "k-means iteration %d/%d: objective %.6g, %.3f s", it + 1, cfg->iters,
                   res->objective, MPI_Wtime() - t0);
        if (rc == WS_OK && cfg->checkpoint)
            rc = topology_agree(comm, rank == 0 ? write_checkpoint(cfg, C, it + 1, res->objective, &sync) : WS_OK);
    }
    const int synced = sync_wait(&sync);   /* on every path: no thread outlives the training */
    if (rc == WS_OK) rc = topology_agree(comm, synced);
    /* counts and objective come from the last iteration's assignment (as faiss reports them); a run
     * resumed after its last iteration makes that assignment once */
    const int ran = res->start_iter < cfg->iters;
    double o = 0.0;
    if (rc == WS_OK && !ran) rc = topology_agree(comm, assign_sum(nn, X, n, k, D, scale, &w, &o));
    if (rc == WS_OK && !ran) {
        rc = exact_sum_allreduce(comm, w.counts, (size_t)k);
        if (rc == WS_OK) rc = exact_sum_doubles(comm, &o, 1);
        if (counts) memcpy(counts, w.counts, (size_t)k * sizeof *counts);
        res->objective = o;
    }
    res->seconds = MPI_Wtime() - t0;
    nearest_free(nn);
    work_free(&w);
    return rc;
}
