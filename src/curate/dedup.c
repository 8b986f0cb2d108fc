/* `dedup`: rows to their cluster's rank, SemDeDup per cluster, results back, files (see dedup.h). */
#define _GNU_SOURCE   /* qsort_r */
#include "curate/dedup.h"
#include "common/error.h"
#include "curate/cfile.h"
#include "curate/cluster.h"
#include "curate/emb_set.h"
#include "curate/exact_sum.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* This rank's rows: every row of its shards (for the files), and the assigned ones (to send). */
typedef struct {
    int64_t n;              /* rows of this rank's shards */
    int8_t *status;
    int32_t *cluster;
    float *dist;
    float *x;               /* [n, D] unit rows */
    int64_t *gid;           /* global row number */
    float *max_sim;         /* results, per row */
    int64_t *dup;           /* global row number of the earlier near-duplicate, -1 */
} local_rows;

static void local_free(local_rows *l) {
    free(l->status), free(l->cluster), free(l->dist), free(l->x), free(l->gid), free(l->max_sim), free(l->dup);
    memset(l, 0, sizeof *l);
}

/* Read this rank's shards: assignment files and embeddings. */
static int read_local(const dedup_options *o, const emb_set *set, int rank, int size, local_rows *l) {
    const int D = set->D;
    for (int i = rank; i < set->count; i += size) l->n += set->shards[i].rows;
    const size_t n = (size_t)(l->n ? l->n : 1);
    l->status = malloc(n), l->cluster = malloc(n * 4), l->dist = malloc(n * 4), l->x = malloc(n * D * 4);
    l->gid = malloc(n * 8), l->max_sim = malloc(n * 4), l->dup = malloc(n * 8);
    if (!l->status || !l->cluster || !l->dist || !l->x || !l->gid || !l->max_sim || !l->dup)
        return ws_errorf(WS_ERR_NOMEM, "dedup: out of memory for %lld rows of %d", (long long)l->n, D);
    int rc = WS_OK;
    int8_t *est = malloc(n);
    for (int i = rank, at = 0; rc == WS_OK && i < set->count; i += size) {
        const emb_shard *s = &set->shards[i];
        char path[4096];
        snprintf(path, sizeof path, "%s/assign/%s.h5", o->clusters, s->name);
        hid_t f;
        rc = cfile_open(path, &f);
        if (rc) break;
        rc = cfile_read(f, path, "cluster", H5T_NATIVE_INT32, s->rows, l->cluster + at);
        if (rc == WS_OK) rc = cfile_read(f, path, "distance", H5T_NATIVE_FLOAT, s->rows, l->dist + at);
        if (rc == WS_OK) rc = cfile_read(f, path, "status", H5T_NATIVE_INT8, s->rows, l->status + at);
        H5Fclose(f);
        if (rc) {
            rc = ws_error_context(rc, "%s does not match %s (rerun cluster on this input)", path, s->path);
            break;
        }
        rc = emb_shard_read(set, s, 0, s->rows, l->x + (size_t)at * D, est);
        for (int64_t r = 0; rc == WS_OK && r < s->rows; r++) {
            l->gid[at + r] = s->first + r;
            if (emb_row_prepare(l->x + (size_t)(at + r) * D, D, est[r], 1) != EMB_ROW_OK) l->cluster[at + r] = -1;
        }
        at += (int)s->rows;
    }
    free(est);
    return rc;
}

static int cmp_size_desc(const void *a, const void *b, void *p) {
    const int64_t *counts = p;
    const int i = *(const int *)a, j = *(const int *)b;
    if (counts[i] != counts[j]) return counts[i] > counts[j] ? -1 : 1;
    return i < j ? -1 : i > j;
}

/* Owner rank of each cluster: largest first to the rank with the least work (size^2). */
static int deal_clusters(const int64_t *counts, int k, int size, int *owner) {
    int *ids = malloc((size_t)k * sizeof *ids);
    double *load = calloc((size_t)size, sizeof *load);
    if (!ids || !load) {
        free(ids), free(load);
        return ws_errorf(WS_ERR_NOMEM, "out of memory");
    }
    for (int c = 0; c < k; c++) ids[c] = c;
    qsort_r(ids, (size_t)k, sizeof *ids, cmp_size_desc, (void *)counts);
    for (int a = 0; a < k; a++) {
        int best = 0;
        for (int r = 1; r < size; r++)
            if (load[r] < load[best]) best = r;
        owner[ids[a]] = best;
        load[best] += (double)counts[ids[a]] * (double)counts[ids[a]];
    }
    free(ids), free(load);
    return WS_OK;
}

/* Rows exchanged with the other ranks, grouped by rank. */
typedef struct {
    int64_t n;
    int64_t *gid;
    int32_t *cluster;
    float *dist, *x, *max_sim;
    int64_t *dup;
} row_batch;

static void batch_free(row_batch *b) {
    free(b->gid), free(b->cluster), free(b->dist), free(b->x), free(b->max_sim), free(b->dup);
    memset(b, 0, sizeof *b);
}

static int batch_alloc(row_batch *b, int64_t n, int D) {
    const size_t m = (size_t)(n ? n : 1);
    b->n = n;
    b->gid = malloc(m * 8), b->cluster = malloc(m * 4), b->dist = malloc(m * 4), b->x = malloc(m * D * 4);
    b->max_sim = malloc(m * 4), b->dup = malloc(m * 8);
    if (b->gid && b->cluster && b->dist && b->x && b->max_sim && b->dup) return WS_OK;
    batch_free(b);
    return ws_errorf(WS_ERR_NOMEM, "dedup: out of memory for %lld exchanged rows", (long long)n);
}

/* MPI_Alltoallv of `type` items: send counts sc (items per rank), receive counts rc. */
static int exchange(MPI_Comm comm, const void *send, const int *sc, void *recv, const int *rcv, MPI_Datatype type,
                    int size) {
    int *sd = malloc((size_t)size * sizeof(int)), *rd = malloc((size_t)size * sizeof(int));
    int rc = sd && rd ? WS_OK : ws_errorf(WS_ERR_NOMEM, "out of memory");
    for (int r = 0, a = 0, b = 0; rc == WS_OK && r < size; a += sc[r], b += rcv[r], r++) sd[r] = a, rd[r] = b;
    if (rc == WS_OK && MPI_Alltoallv(send, sc, sd, type, recv, rcv, rd, type, comm) != MPI_SUCCESS)
        rc = ws_errorf(WS_ERR_COMM, "dedup: all-to-all exchange of rows failed");
    free(sd), free(rd);
    return rc;
}

/* Send the assigned rows to their clusters' ranks (out: what this rank received, and `perm`:
 * the local row of each row sent, in send order; sc/rcv the row counts per rank). */
static int send_rows(MPI_Comm comm, int size, int D, const local_rows *l, const int *owner, row_batch *in,
                     int64_t **perm, int *sc, int *rcv) {
    int64_t ns = 0;
    memset(sc, 0, (size_t)size * sizeof(int));
    for (int64_t i = 0; i < l->n; i++)
        if (l->cluster[i] >= 0) sc[owner[l->cluster[i]]]++, ns++;
    row_batch out;
    int rc = batch_alloc(&out, ns, D);
    *perm = malloc((size_t)(ns ? ns : 1) * sizeof **perm);
    if (rc == WS_OK && !*perm) rc = ws_errorf(WS_ERR_NOMEM, "out of memory");
    if (rc) return rc;
    int64_t *at = calloc((size_t)size + 1, sizeof *at);
    for (int r = 0; r < size; r++) at[r + 1] = at[r] + sc[r];
    for (int64_t i = 0; i < l->n; i++) {
        if (l->cluster[i] < 0) continue;
        const int64_t j = at[owner[l->cluster[i]]]++;
        (*perm)[j] = i;
        out.gid[j] = l->gid[i], out.cluster[j] = l->cluster[i], out.dist[j] = l->dist[i];
        memcpy(out.x + (size_t)j * D, l->x + (size_t)i * D, (size_t)D * sizeof(float));
    }
    free(at);
    if (MPI_Alltoall(sc, 1, MPI_INT, rcv, 1, MPI_INT, comm) != MPI_SUCCESS) rc = ws_errorf(WS_ERR_COMM, "dedup: all-to-all of counts failed");
    int64_t nr = 0;
    for (int r = 0; r < size; r++) nr += rcv[r];
    if (rc == WS_OK) rc = batch_alloc(in, nr, D);
    MPI_Datatype row;
    MPI_Type_contiguous(D, MPI_FLOAT, &row);
    MPI_Type_commit(&row);
    if (rc == WS_OK) rc = exchange(comm, out.gid, sc, in->gid, rcv, MPI_INT64_T, size);
    if (rc == WS_OK) rc = exchange(comm, out.cluster, sc, in->cluster, rcv, MPI_INT32_T, size);
    if (rc == WS_OK) rc = exchange(comm, out.dist, sc, in->dist, rcv, MPI_FLOAT, size);
    if (rc == WS_OK) rc = exchange(comm, out.x, sc, in->x, rcv, row, size);
    MPI_Type_free(&row);
    batch_free(&out);
    return rc;
}

static int cmp_cluster_gid(const void *a, const void *b, void *p) {
    const row_batch *in = p;
    const int64_t i = *(const int64_t *)a, j = *(const int64_t *)b;
    if (in->cluster[i] != in->cluster[j]) return in->cluster[i] < in->cluster[j] ? -1 : 1;
    return in->gid[i] < in->gid[j] ? -1 : in->gid[i] > in->gid[j];
}

/* SemDeDup on every cluster this rank received: results into in->max_sim and in->dup. */
static int dedup_clusters(const dedup_options *o, ws_backend *be, int D, row_batch *in, int64_t *largest) {
    const int64_t n = in->n;
    int64_t *idx = malloc((size_t)(n ? n : 1) * sizeof *idx), *order = malloc((size_t)(n ? n : 1) * sizeof *order);
    int64_t *ids = malloc((size_t)(n ? n : 1) * sizeof *ids), *prev = malloc((size_t)(n ? n : 1) * sizeof *prev);
    float *dist = malloc((size_t)(n ? n : 1) * sizeof *dist), *sim = malloc((size_t)(n ? n : 1) * sizeof *sim);
    float *X = malloc((size_t)(n ? n : 1) * D * sizeof *X);
    int rc = idx && order && ids && prev && dist && sim && X ? WS_OK : ws_errorf(WS_ERR_NOMEM, "dedup: out of memory");
    for (int64_t i = 0; rc == WS_OK && i < n; i++) idx[i] = i;
    if (rc == WS_OK) qsort_r(idx, (size_t)n, sizeof *idx, cmp_cluster_gid, in);
    *largest = 0;
    for (int64_t g0 = 0, g1; rc == WS_OK && g0 < n; g0 = g1) {
        for (g1 = g0; g1 < n && in->cluster[idx[g1]] == in->cluster[idx[g0]]; g1++) {}
        const int64_t m = g1 - g0;
        if (m > *largest) *largest = m;
        for (int64_t a = 0; a < m; a++) ids[a] = in->gid[idx[g0 + a]], dist[a] = in->dist[idx[g0 + a]];
        semdedup_order(o->keep, o->seed, in->cluster[idx[g0]], ids, dist, m, order);
        for (int64_t a = 0; a < m; a++)
            memcpy(X + (size_t)a * D, in->x + (size_t)idx[g0 + order[a]] * D, (size_t)D * sizeof(float));
        rc = semdedup_cluster(be, X, m, D, o->block, sim, prev);
        for (int64_t a = 0; rc == WS_OK && a < m; a++) {
            const int64_t r = idx[g0 + order[a]];
            in->max_sim[r] = prev[a] < 0 ? NAN : sim[a];
            in->dup[r] = prev[a] < 0 ? -1 : in->gid[idx[g0 + order[prev[a]]]];
        }
    }
    free(idx), free(order), free(ids), free(prev), free(dist), free(sim), free(X);
    return rc;
}

/* Results back to the ranks the rows came from, into l->max_sim / l->dup. */
static int return_results(MPI_Comm comm, int size, const row_batch *in, const int *sc, const int *rcv,
                          const int64_t *perm, local_rows *l) {
    int64_t ns = 0;
    for (int r = 0; r < size; r++) ns += sc[r];
    float *sim = malloc((size_t)(ns ? ns : 1) * sizeof *sim);
    int64_t *dup = malloc((size_t)(ns ? ns : 1) * sizeof *dup);
    int rc = sim && dup ? WS_OK : ws_errorf(WS_ERR_NOMEM, "out of memory");
    if (rc == WS_OK) rc = exchange(comm, in->max_sim, rcv, sim, sc, MPI_FLOAT, size);
    if (rc == WS_OK) rc = exchange(comm, in->dup, rcv, dup, sc, MPI_INT64_T, size);
    for (int64_t i = 0; i < l->n; i++) l->max_sim[i] = NAN, l->dup[i] = -1;
    for (int64_t j = 0; rc == WS_OK && j < ns; j++) l->max_sim[perm[j]] = sim[j], l->dup[perm[j]] = dup[j];
    free(sim), free(dup);
    return rc;
}

static int write_shard(const dedup_options *o, const emb_set *set, const emb_shard *s, const local_rows *l,
                       int64_t at, int64_t *kept) {
    const int64_t n = s->rows, E = o->n_eps;
    char path[4096], **keys = NULL, **dshard = calloc((size_t)(n ? n : 1), sizeof *dshard);
    int64_t *drow = malloc((size_t)(n ? n : 1) * sizeof *drow);
    int8_t *keep = malloc((size_t)(n ? n : 1) * E);
    snprintf(path, sizeof path, "%s/%s.h5", o->output, s->name);
    int rc = dshard && drow && keep ? emb_shard_keys(s, &keys) : ws_errorf(WS_ERR_NOMEM, "out of memory");
    for (int64_t r = 0; rc == WS_OK && r < n; r++) {
        const int64_t i = at + r, g = l->dup[i];
        const emb_shard *d = g >= 0 ? &set->shards[emb_set_find(set, g)] : NULL;
        dshard[r] = d ? d->name : "";
        drow[r] = d ? g - d->first : -1;
        for (int64_t e = 0; e < E; e++) {
            keep[r * E + e] = l->cluster[i] >= 0 && !(l->max_sim[i] > 1.0 - o->eps[e]);
            kept[e] += keep[r * E + e];
        }
    }
    cfile *f = NULL;
    const int64_t d1[1] = {n}, d2[2] = {n, E};
    char eps[512] = "";
    for (int e = 0; e < E; e++) snprintf(eps + strlen(eps), sizeof eps - strlen(eps), "%s%g", e ? "," : "", o->eps[e]);
    if (rc == WS_OK) rc = cfile_create(path, &f);
    if (rc == WS_OK) rc = cfile_write_strings(f, "key", keys, n);
    if (rc == WS_OK) rc = cfile_write(f, "status", H5T_NATIVE_INT8, H5T_STD_I8LE, 1, d1, l->status + at);
    if (rc == WS_OK) rc = cfile_write(f, "cluster", H5T_NATIVE_INT32, H5T_STD_I32LE, 1, d1, l->cluster + at);
    if (rc == WS_OK) rc = cfile_write(f, "max_similarity", H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, 1, d1, l->max_sim + at);
    if (rc == WS_OK) rc = cfile_write_strings(f, "duplicate_shard", dshard, n);
    if (rc == WS_OK) rc = cfile_write(f, "duplicate_row", H5T_NATIVE_INT64, H5T_STD_I64LE, 1, d1, drow);
    if (rc == WS_OK) rc = cfile_write(f, "keep", H5T_NATIVE_INT8, H5T_STD_I8LE, 2, d2, keep);
    if (rc == WS_OK) rc = cfile_attr_str(f, "eps", eps);
    if (rc == WS_OK) rc = cfile_attr_str(f, "keep_order", o->keep == KEEP_HARD ? "hard" : o->keep == KEEP_EASY ? "easy" : "random");
    if (rc == WS_OK) rc = cfile_attr_str(f, "source", s->path);
    if (rc == WS_OK) rc = cfile_commit(f);
    else cfile_abort(f);
    emb_keys_free(keys, keys ? n : 0);
    free(dshard), free(drow), free(keep);
    return rc;
}

static int write_summary(const dedup_options *o, const dedup_summary *s) {
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/summary.json", o->output);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return ws_errorf(WS_ERR_IO, "%s: %s", tmp, strerror(errno));
    fprintf(f, "{\n  \"rows\": %lld,\n  \"assigned\": %lld,\n  \"clusters\": %lld,\n  \"largest_cluster\": %lld,\n"
            "  \"keep\": \"%s\",\n  \"eps\": [\n", (long long)s->rows, (long long)s->assigned, (long long)s->clusters,
            (long long)s->largest, o->keep == KEEP_HARD ? "hard" : o->keep == KEEP_EASY ? "easy" : "random");
    for (int e = 0; e < o->n_eps; e++)
        fprintf(f, "    {\"eps\": %g, \"kept\": %lld, \"removed\": %lld, \"kept_fraction\": %.6f}%s\n", o->eps[e],
                (long long)s->kept[e], (long long)(s->assigned - s->kept[e]),
                s->rows ? (double)s->kept[e] / (double)s->rows : 0.0, e + 1 < o->n_eps ? "," : "");
    fprintf(f, "  ]\n}\n");
    const int bad = ferror(f) | (fclose(f) != 0);
    if (bad || rename(tmp, path) != 0) return ws_errorf(WS_ERR_IO, "%s: cannot write", path);
    return WS_OK;
}

/* The number of clusters and the embedding feature, from the cluster run's centroids file. */
static int read_k(const dedup_options *o, int *k, char *feature, size_t len) {
    char path[4096];
    snprintf(path, sizeof path, "%s/centroids.h5", o->clusters);
    hid_t f;
    int rc = cfile_open(path, &f);
    int64_t kk = 0;
    if (rc == WS_OK) rc = cfile_get_i64(f, path, "k", &kk);
    if (rc == WS_OK) rc = cfile_get_str(f, path, "feature", feature, len);
    if (rc == WS_OK) H5Fclose(f);
    *k = (int)kk;
    return rc ? ws_error_context(rc, "--clusters %s (the output of webssl-dist cluster)", o->clusters) : WS_OK;
}

int dedup_run(const dedup_options *o, const ws_topology *t, dedup_summary *sum) {
    memset(sum, 0, sizeof *sum);
    const int rank = t->world_rank, size = t->world_size;
    MPI_Comm comm = t->world;
    char feature[32];
    int k = 0;
    emb_set set = {0};
    local_rows l = {0};
    row_batch in = {0};
    ws_backend *be = NULL;
    int64_t *counts = NULL, *perm = NULL;
    int *owner = NULL, *sc = calloc((size_t)size, sizeof(int)), *rcv = calloc((size_t)size, sizeof(int));
    const double t0 = MPI_Wtime();
    int rc = read_k(o, &k, feature, sizeof feature);
    if (rc == WS_OK) rc = emb_set_open(o->input, feature, &set);
    if (rc == WS_OK && rank == 0 && mkdir(o->output, 0777) != 0 && errno != EEXIST)
        rc = ws_errorf(WS_ERR_IO, "%s: cannot create directory: %s", o->output, strerror(errno));
    if (rc == WS_OK) rc = read_local(o, &set, rank, size, &l);
    if (rc == WS_OK && !(counts = calloc((size_t)k, sizeof *counts))) rc = ws_errorf(WS_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; rc == WS_OK && i < l.n; i++) {
        if (l.cluster[i] >= k) rc = ws_errorf(WS_ERR_FORMAT, "%s: cluster %d of row %lld is not below k = %d",
                                              o->clusters, l.cluster[i], (long long)l.gid[i], k);
        else if (l.cluster[i] >= 0) counts[l.cluster[i]]++;
    }
    rc = topology_agree(comm, rc);
    if (rc == WS_OK) rc = exact_sum_allreduce(comm, counts, (size_t)k);
    if (rc == WS_OK && !(owner = malloc((size_t)k * sizeof *owner))) rc = ws_errorf(WS_ERR_NOMEM, "out of memory");
    if (rc == WS_OK) rc = deal_clusters(counts, k, size, owner);
    if (rc == WS_OK) rc = curate_backend(o->device, o->threads, t, &be);
    char desc[256];
    if (rc == WS_OK) rc = be->ops->gemm_select(be, WS_DTYPE_F32, WS_GEMM_DATA, desc, sizeof desc);
    rc = topology_agree(comm, rc);
    if (rc == WS_OK) rc = topology_agree(comm, send_rows(comm, size, set.D, &l, owner, &in, &perm, sc, rcv));
    if (rc == WS_OK) rc = topology_agree(comm, dedup_clusters(o, be, set.D, &in, &sum->largest));
    if (rc == WS_OK) rc = topology_agree(comm, return_results(comm, size, &in, sc, rcv, perm, &l));
    for (int i = rank, at = 0; rc == WS_OK && i < set.count; at += (int)set.shards[i].rows, i += size)
        rc = write_shard(o, &set, &set.shards[i], &l, at, sum->kept);
    rc = topology_agree(comm, rc);
    if (rc == WS_OK) {
        sum->rows = set.rows;
        for (int c = 0; c < k; c++) sum->assigned += counts[c], sum->clusters += counts[c] > 0;
        MPI_Allreduce(MPI_IN_PLACE, sum->kept, o->n_eps, MPI_INT64_T, MPI_SUM, comm);
        MPI_Allreduce(MPI_IN_PLACE, &sum->largest, 1, MPI_INT64_T, MPI_MAX, comm);
        sum->seconds = MPI_Wtime() - t0;
        rc = topology_agree(comm, rank == 0 ? write_summary(o, sum) : WS_OK);
    }
    backend_free(be);
    batch_free(&in);
    local_free(&l);
    emb_set_free(&set);
    free(counts), free(perm), free(owner), free(sc), free(rcv);
    return rc;
}
