/* Streaming assignment of every embedding row to its nearest centroid (see assign.h). */
#include "curate/assign.h"
#include "common/error.h"
#include "comm/topology.h"
#include "curate/cfile.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { ASSIGN_BLOCK = 16384 };   /* rows read and assigned at once */

typedef struct {
    float *x;
    int8_t *embed_status;
    int8_t *status;
    int32_t *cluster;
    float *dist;
} shard_rows;

static int assign_shard(const emb_set *set, const emb_shard *s, nearest *nn, km_metric metric, float *x,
                        int8_t *est, shard_rows *r, int64_t *assigned) {
    const int D = set->D;
    for (int64_t r0 = 0; r0 < s->rows; r0 += ASSIGN_BLOCK) {
        const int64_t m = s->rows - r0 < ASSIGN_BLOCK ? s->rows - r0 : ASSIGN_BLOCK;
        int rc = emb_shard_read(set, s, r0, m, x, est);
        if (rc) return rc;
        for (int64_t i = 0; i < m; i++)
            r->status[r0 + i] = (int8_t)emb_row_prepare(x + (size_t)i * D, D, est[i], metric == KM_COSINE);
        if ((rc = nearest_run(nn, x, NULL, m, r->cluster + r0, r->dist + r0))) return rc;
        for (int64_t i = r0; i < r0 + m; i++) {
            if (r->status[i] == EMB_ROW_OK) {
                (*assigned)++;
                continue;
            }
            r->cluster[i] = -1;
            r->dist[i] = NAN;
        }
    }
    return WS_OK;
}

static int write_shard(const char *path, const emb_shard *s, char **keys, const shard_rows *r, int k,
                       km_metric metric, const char *params) {
    cfile *f;
    int rc = cfile_create(path, &f);
    const int64_t dims[1] = {s->rows};
    if (rc) return rc;
    rc = cfile_write_strings(f, "key", keys, s->rows);
    if (rc == WS_OK) rc = cfile_write(f, "status", H5T_NATIVE_INT8, H5T_STD_I8LE, 1, dims, r->status);
    if (rc == WS_OK) rc = cfile_write(f, "cluster", H5T_NATIVE_INT32, H5T_STD_I32LE, 1, dims, r->cluster);
    if (rc == WS_OK) rc = cfile_write(f, "distance", H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, 1, dims, r->dist);
    if (rc == WS_OK) rc = cfile_attr_str(f, "source", s->path);
    if (rc == WS_OK) rc = cfile_attr_i64(f, "k", k);
    if (rc == WS_OK) rc = cfile_attr_str(f, "metric", metric == KM_COSINE ? "cosine" : "l2");
    if (rc == WS_OK) rc = cfile_attr_str(f, "params", params);
    if (rc == WS_OK) return cfile_commit(f);
    cfile_abort(f);
    return rc;
}

/* This rank's shards. */
/* 1 when `path` is a complete assignment file made from the centroids `params` describes. */
static int done_before(const char *path, const char *params) {
    hid_t f;
    if (access(path, F_OK) != 0 || cfile_open(path, &f)) return 0;
    char p[2048];
    const int same = cfile_get_str(f, path, "params", p, sizeof p) == WS_OK && !strcmp(p, params);
    H5Fclose(f);
    return same;
}

static int assign_local(const emb_set *set, nearest *nn, km_metric metric, int k, const char *params,
                        const char *out_dir, int rank, int size, assign_stats *st) {
    const int D = set->D;
    float *x = malloc((size_t)ASSIGN_BLOCK * D * sizeof(float));
    int8_t *est = malloc(ASSIGN_BLOCK);
    int rc = x && est ? WS_OK : ws_errorf(WS_ERR_NOMEM, "out of memory for the assignment blocks");
    for (int i = rank; rc == WS_OK && i < set->count; i += size) {
        const emb_shard *s = &set->shards[i];
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.h5", out_dir, s->name);
        if (done_before(path, params)) {
            st->skipped_shards++;
            continue;
        }
        const size_t rows = (size_t)(s->rows ? s->rows : 1);
        shard_rows r = {.status = malloc(rows), .cluster = malloc(rows * sizeof(int32_t)),
                        .dist = malloc(rows * sizeof(float))};
        char **keys = NULL;
        if (!r.status || !r.cluster || !r.dist) rc = ws_errorf(WS_ERR_NOMEM, "out of memory for %s", s->path);
        if (rc == WS_OK) rc = emb_shard_keys(s, &keys);
        if (rc == WS_OK) rc = assign_shard(set, s, nn, metric, x, est, &r, &st->assigned);
        if (rc == WS_OK) rc = write_shard(path, s, keys, &r, k, metric, params);
        if (rc == WS_OK) st->rows += s->rows, st->written_shards++;
        emb_keys_free(keys, keys ? s->rows : 0);
        free(r.status), free(r.cluster), free(r.dist);
    }
    free(x), free(est);
    return rc;
}

int assign_run(const emb_set *set, ws_backend *be, km_metric metric, const float *C, int k, const char *params,
               const char *out_dir, MPI_Comm comm, assign_stats *stats) {
    memset(stats, 0, sizeof *stats);
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    nearest *nn = NULL;
    int rc = nearest_create(be, metric, C, k, set->D, 0, &nn);
    if (rc == WS_OK) rc = assign_local(set, nn, metric, k, params, out_dir, rank, size, stats);
    nearest_free(nn);
    rc = topology_agree(comm, rc);
    int64_t v[4] = {stats->rows, stats->assigned, stats->skipped_shards, stats->written_shards};
    if (MPI_Allreduce(MPI_IN_PLACE, v, 4, MPI_INT64_T, MPI_SUM, comm) != MPI_SUCCESS && rc == WS_OK)
        rc = ws_errorf(WS_ERR_COMM, "assignment: all-reduce of the counts failed");
    stats->rows = v[0], stats->assigned = v[1], stats->skipped_shards = v[2], stats->written_shards = v[3];
    return rc;
}
