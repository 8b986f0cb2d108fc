/* k-means++ and Lloyd steps in float64 for hierarchical levels >= 2 (see level_kmeans.h). */
#include "curate/level_kmeans.h"
#include "common/error.h"
#include "curate/kmeans.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void row_norms(const double *X, int64_t n, int D, double *out) {
    for (int64_t i = 0; i < n; i++) {
        double s = 0.0;
        for (int d = 0; d < D; d++) s += X[(size_t)i * D + d] * X[(size_t)i * D + d];
        out[i] = s;
    }
}

int lk_assign(MPI_Comm comm, const double *X, int64_t n, const double *C, int k, int D, int32_t *idx,
              double *dist) {
    int rank, world;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &world);
    double *cn = malloc((size_t)k * sizeof *cn), *xn = malloc(LK_BLOCK * sizeof *xn);
    double *G = malloc((size_t)LK_BLOCK * k * sizeof *G);
    if (!cn || !xn || !G) {
        free(cn), free(xn), free(G);
        return ws_errorf(WS_ERR_NOMEM, "hierarchical k-means: out of memory for %d centroids", k);
    }
    row_norms(C, k, D, cn);
    memset(idx, 0, (size_t)n * sizeof *idx);
    memset(dist, 0, (size_t)n * sizeof *dist);
    for (int64_t b = 0, i0 = 0; i0 < n; b++, i0 += LK_BLOCK) {
        if (b % world != rank) continue;
        const int rows = (int)(n - i0 < LK_BLOCK ? n - i0 : LK_BLOCK);
        const double *Xb = X + (size_t)i0 * D;
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, k, D, 1.0, Xb, D, C, D, 0.0, G, k);
        row_norms(Xb, rows, D, xn);
        for (int r = 0; r < rows; r++) {
            int best = 0;
            double bd = INFINITY;
            for (int c = 0; c < k; c++) {
                const double d = xn[r] - 2.0 * G[(size_t)r * k + c] + cn[c];
                if (d < bd) bd = d, best = c;
            }
            idx[i0 + r] = best, dist[i0 + r] = bd;
        }
    }
    free(cn), free(xn), free(G);
    /* every value comes from one rank and the others hold 0: the sums are exact */
    if (MPI_Allreduce(MPI_IN_PLACE, idx, (int)n, MPI_INT32_T, MPI_SUM, comm) != MPI_SUCCESS ||
        MPI_Allreduce(MPI_IN_PLACE, dist, (int)n, MPI_DOUBLE, MPI_SUM, comm) != MPI_SUCCESS)
        return ws_errorf(WS_ERR_COMM, "hierarchical k-means: all-reduce of the assignment failed");
    return WS_OK;
}

/* out[i] = min(closest[i], |X_i - X_c|^2); returns the sum of out in index order. */
static double with_centre(const double *X, int64_t n, int D, int64_t c, const double *closest, double *out) {
    const double *y = X + (size_t)c * D;
    #pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        double s = 0.0;
        for (int d = 0; d < D; d++) {
            const double t = X[(size_t)i * D + d] - y[d];
            s += t * t;
        }
        out[i] = closest && closest[i] < s ? closest[i] : s;
    }
    double pot = 0.0;
    for (int64_t i = 0; i < n; i++) pot += out[i];
    return pot;
}

/* The first position whose running sum reaches u (the last one if none does). */
static int64_t draw_position(const double *cum, int64_t n, double u) {
    int64_t lo = 0, hi = n - 1;
    while (lo < hi) {
        const int64_t mid = lo + (hi - lo) / 2;
        if (cum[mid] >= u) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

int lk_kmeanspp(const double *X, int64_t n, int k, int D, uint64_t seed, double *C) {
    const int trials = 2 + (int)floor(log((double)k));
    double *closest = malloc((size_t)n * sizeof *closest), *cum = malloc((size_t)n * sizeof *cum);
    double *cand = malloc((size_t)trials * n * sizeof *cand);
    if (!closest || !cum || !cand) {
        free(closest), free(cum), free(cand);
        return ws_errorf(WS_ERR_NOMEM, "k-means++: out of memory for %lld points", (long long)n);
    }
    uint64_t st = seed;
    const int64_t first = (int64_t)(km_rand(&st) % (uint64_t)n);
    memcpy(C, X + (size_t)first * D, (size_t)D * sizeof *C);
    double pot = with_centre(X, n, D, first, NULL, closest);
    for (int c = 1; c < k; c++) {
        double run = 0.0;
        for (int64_t i = 0; i < n; i++) cum[i] = run += closest[i];
        int64_t pick = 0;
        double best = INFINITY;
        int best_t = 0;
        for (int t = 0; t < trials; t++) {
            const int64_t p = draw_position(cum, n, km_rand_unit(&st) * pot);
            const double pt = with_centre(X, n, D, p, closest, cand + (size_t)t * n);
            if (pt < best) best = pt, pick = p, best_t = t;
        }
        memcpy(closest, cand + (size_t)best_t * n, (size_t)n * sizeof *closest);
        pot = best;
        memcpy(C + (size_t)c * D, X + (size_t)pick * D, (size_t)D * sizeof *C);
    }
    free(closest), free(cum), free(cand);
    return WS_OK;
}

/* Each centroid to the mean of its points (in index order); an empty cluster keeps its own. */
static void update_means(const double *X, int64_t n, int k, int D, const int32_t *idx, double *sums,
                         int64_t *counts, double *C) {
    memset(sums, 0, (size_t)k * D * sizeof *sums);
    memset(counts, 0, (size_t)k * sizeof *counts);
    for (int64_t i = 0; i < n; i++) {
        double *s = sums + (size_t)idx[i] * D;
        for (int d = 0; d < D; d++) s[d] += X[(size_t)i * D + d];
        counts[idx[i]]++;
    }
    for (int c = 0; c < k; c++)
        for (int d = 0; counts[c] && d < D; d++) C[(size_t)c * D + d] = sums[(size_t)c * D + d] / (double)counts[c];
}

int lk_train(MPI_Comm comm, const double *X, int64_t n, int k, int D, int iters, uint64_t seed, double *C) {
    int32_t *idx = malloc((size_t)n * sizeof *idx);
    double *dist = malloc((size_t)n * sizeof *dist), *sums = malloc((size_t)k * D * sizeof *sums);
    int64_t *counts = malloc((size_t)k * sizeof *counts);
    int rc = idx && dist && sums && counts ? WS_OK : ws_errorf(WS_ERR_NOMEM, "k-means: out of memory");
    if (rc == WS_OK) rc = lk_kmeanspp(X, n, k, D, seed, C);
    if (rc == WS_OK) rc = lk_assign(comm, X, n, C, k, D, idx, dist);
    for (int it = 0; rc == WS_OK && it < iters; it++) {   /* the assignment after the last update is the caller's */
        update_means(X, n, k, D, idx, sums, counts, C);
        if (it + 1 < iters) rc = lk_assign(comm, X, n, C, k, D, idx, dist);
    }
    free(idx), free(dist), free(sums), free(counts);
    return rc;
}
