/* SemDeDup within one cluster: the keep order and the blocked max similarity to earlier rows
 * (see semdedup.h). */
#define _GNU_SOURCE   /* qsort_r */
#include "curate/semdedup.h"
#include "common/error.h"
#include "curate/kmeans.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    const int64_t *id;
    const float *dist;
    int descending;
} order_ctx;

static int cmp_rows(const void *a, const void *b, void *p) {
    const order_ctx *c = p;
    const int64_t i = *(const int64_t *)a, j = *(const int64_t *)b;
    int r = !c->dist ? 0 : c->dist[i] < c->dist[j] ? -1 : c->dist[i] > c->dist[j] ? 1 : 0;
    if (!r) r = c->id[i] < c->id[j] ? -1 : c->id[i] > c->id[j];
    return c->descending ? -r : r;
}

void semdedup_order(semdedup_keep keep, uint64_t seed, int cluster, const int64_t *id, const float *dist, int64_t m,
                    int64_t *order) {
    for (int64_t i = 0; i < m; i++) order[i] = i;
    if (keep == KEEP_RANDOM) {
        /* by row id first, so the shuffle does not depend on the order the rows arrived in */
        order_ctx c = {id, NULL, 0};
        qsort_r(order, (size_t)m, sizeof *order, cmp_rows, &c);
        uint64_t st = seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)(cluster + 1));
        for (int64_t i = m - 1; i > 0; i--) {
            const int64_t j = (int64_t)(km_rand(&st) % (uint64_t)(i + 1)), t = order[i];
            order[i] = order[j], order[j] = t;
        }
        return;
    }
    order_ctx c = {id, dist, keep == KEEP_HARD};
    qsort_r(order, (size_t)m, sizeof *order, cmp_rows, &c);
}

int semdedup_cluster(ws_backend *be, const float *X, int64_t m, int D, int block, float *max_sim, int64_t *prev) {
    const int B = block > 0 ? block : 2048;
    for (int64_t j = 0; j < m; j++) max_sim[j] = -2.0f, prev[j] = -1;
    if (m < 2) return WS_OK;
    float *dX = be->ops->alloc(be, (size_t)m * D * sizeof(float));
    float *dS = be->ops->alloc(be, (size_t)B * B * sizeof(float));
    float *S = malloc((size_t)B * B * sizeof(float));
    int rc = dX && dS && S ? WS_OK : ws_errorf(WS_ERR_NOMEM, "semdedup: cannot allocate a cluster of %lld rows x %d "
                                               "and a %d x %d block", (long long)m, D, B, B);
    if (rc == WS_OK) be->ops->upload(be, dX, X, (size_t)m * D * sizeof(float));
    for (int64_t j0 = 0; rc == WS_OK && j0 < m; j0 += B) {
        const int nj = (int)(m - j0 < B ? m - j0 : B);
        for (int64_t i0 = 0; rc == WS_OK && i0 <= j0; i0 += B) {
            const int ni = (int)(m - i0 < B ? m - i0 : B);
            /* S[nj, ni] = X[j0..] . X[i0..]^T: the earlier rows take the place of the weights */
            rc = be->ops->matmul(be, dS, WS_DTYPE_F32, dX + (size_t)j0 * D, WS_DTYPE_F32, dX + (size_t)i0 * D,
                                 WS_DTYPE_F32, NULL, WS_EPILOGUE_NONE, nj, ni, D);
            if (rc) break;
            be->ops->download(be, S, dS, (size_t)nj * ni * sizeof(float));
            for (int a = 0; a < nj; a++) {
                const int64_t j = j0 + a;
                const int lim = (int)(j - i0 < ni ? j - i0 : ni);   /* earlier rows only */
                for (int b = 0; b < lim; b++)
                    if (S[(size_t)a * ni + b] > max_sim[j]) max_sim[j] = S[(size_t)a * ni + b], prev[j] = i0 + b;
            }
        }
    }
    if (dX) be->ops->free(be, dX);
    if (dS) be->ops->free(be, dS);
    free(S);
    return rc;
}
