/* Nearest centroid through the backend's matmul and row_argmax ops (see nearest.h). */
#include "curate/nearest.h"
#include "common/error.h"

#include <stdlib.h>
#include <string.h>

struct nearest {
    ws_backend *be;
    km_metric metric;
    int k, D, block;
    float *dC, *dbias, *dX, *dscores, *dval;   /* backend memory */
    int32_t *didx;
    float *bias, *val;                         /* host */
};

void nearest_free(nearest *nn) {
    if (!nn) return;
    ws_backend *be = nn->be;
    void *dev[] = {nn->dC, nn->dbias, nn->dX, nn->dscores, nn->dval, nn->didx};
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
        if (dev[i]) be->ops->free(be, dev[i]);
    free(nn->bias), free(nn->val);
    free(nn);
}

int nearest_set_centroids(nearest *nn, const float *C) {
    for (int c = 0; c < nn->k; c++) {
        double s = 0.0;
        for (int d = 0; d < nn->D; d++) s += (double)C[(size_t)c * nn->D + d] * C[(size_t)c * nn->D + d];
        nn->bias[c] = nn->metric == KM_L2 ? (float)(-0.5 * s) : 0.0f;
    }
    nn->be->ops->upload(nn->be, nn->dC, C, (size_t)nn->k * nn->D * sizeof(float));
    nn->be->ops->upload(nn->be, nn->dbias, nn->bias, (size_t)nn->k * sizeof(float));
    return WS_OK;
}

int nearest_create(ws_backend *be, km_metric metric, const float *C, int k, int D, int block_rows, nearest **out) {
    *out = NULL;
    char desc[256];
    int rc = be->ops->gemm_select(be, WS_DTYPE_F32, WS_GEMM_DATA, desc, sizeof desc);
    if (rc) return rc;
    nearest *nn = calloc(1, sizeof *nn);
    if (!nn) return ws_errorf(WS_ERR_NOMEM, "out of memory");
    nn->be = be, nn->metric = metric, nn->k = k, nn->D = D;
    /* default: a score block of about 512 KiB, so that it and the block's rows stay in a core's L2
     * (2 MiB on current Xeons) between the GEMM, the arg-max and k-means' sums (at k 256, D 256:
     * 1.53 profile samples per GEMM-kernel sample, against 1.71 with 4 MiB blocks) */
    nn->block = block_rows > 0 ? block_rows : (int)(((size_t)512 << 10) / ((size_t)k * sizeof(float)));
    if (nn->block < 256) nn->block = 256;
    if (nn->block > 65536) nn->block = 65536;
    const size_t B = (size_t)nn->block;
    nn->dC = be->ops->alloc(be, (size_t)k * D * sizeof(float));
    nn->dbias = be->ops->alloc(be, (size_t)k * sizeof(float));
    nn->dX = be->host_memory ? NULL : be->ops->alloc(be, B * D * sizeof(float));
    nn->dscores = be->ops->alloc(be, B * k * sizeof(float));
    nn->dval = be->ops->alloc(be, B * sizeof(float));
    nn->didx = be->ops->alloc(be, B * sizeof(int32_t));
    nn->bias = malloc((size_t)k * sizeof(float));
    nn->val = malloc(B * sizeof(float));
    if (!nn->dC || !nn->dbias || (!nn->dX && !be->host_memory) || !nn->dscores || !nn->dval || !nn->didx || !nn->bias || !nn->val) {
        nearest_free(nn);
        return ws_errorf(WS_ERR_NOMEM, "k-means assignment (k=%d, D=%d, %zu-row blocks) on %s: cannot allocate "
                         "%zu bytes", k, D, B, be->ops->name, ((size_t)k * D + B * (D + k)) * sizeof(float));
    }
    nearest_set_centroids(nn, C);
    *out = nn;
    return WS_OK;
}

int nearest_block(const nearest *nn) { return nn->block; }

int nearest_run(nearest *nn, const float *X, const double *sqnorm, int64_t n, int32_t *idx, float *dist) {
    ws_backend *be = nn->be;
    const int D = nn->D;
    for (int64_t r0 = 0; r0 < n; r0 += nn->block) {
        const int m = (int)(n - r0 < nn->block ? n - r0 : nn->block);
        const float *x = X + (size_t)r0 * D, *dx = x;
        if (!be->host_memory) {   /* host-memory backends (CPU) read the rows where they are */
            be->ops->upload(be, nn->dX, x, (size_t)m * D * sizeof(float));
            dx = nn->dX;
        }
        int rc = be->ops->matmul(be, nn->dscores, WS_DTYPE_F32, dx, WS_DTYPE_F32, nn->dC, WS_DTYPE_F32, nn->dbias,
                                 WS_EPILOGUE_NONE, m, nn->k, D);
        if (rc == WS_OK) rc = be->ops->row_argmax(be, nn->didx, nn->dval, nn->dscores, m, nn->k);
        if (rc) return rc;
        be->ops->download(be, idx + r0, nn->didx, (size_t)m * sizeof(int32_t));
        be->ops->download(be, nn->val, nn->dval, (size_t)m * sizeof(float));
        for (int i = 0; i < m; i++) {
            if (nn->metric == KM_COSINE) {
                dist[r0 + i] = 1.0f - nn->val[i];
                continue;
            }
            double xx = 0.0;
            if (sqnorm) xx = sqnorm[r0 + i];
            else
                for (int d = 0; d < D; d++) xx += (double)x[(size_t)i * D + d] * x[(size_t)i * D + d];
            const double v = xx - 2.0 * nn->val[i];
            dist[r0 + i] = v > 0.0 ? (float)v : 0.0f;
        }
    }
    return WS_OK;
}
