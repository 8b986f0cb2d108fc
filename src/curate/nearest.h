/* Nearest centroid of each row, through the backend op table: scores = X . C^T + bias (the
 * matmul op: BLAS / oneDNN on CPU, cuBLASLt on CUDA) and the row_argmax op, in blocks of rows so
 * that the [rows, k] score matrix stays bounded.
 *   cosine (rows and centroids unit length): score = x.c, distance = 1 - x.c
 *   L2: score = x.c - |c|^2 / 2 (bias), the largest is the nearest, distance = |x|^2 - 2 score
 *   (squared L2, clamped at 0), as faiss reports it. */
#ifndef WEBSSL_CURATE_NEAREST_H
#define WEBSSL_CURATE_NEAREST_H

#include <stdint.h>

#include "backend/backend.h"

typedef enum { KM_COSINE = 0, KM_L2 = 1 } km_metric;

typedef struct nearest nearest;

/* Prepare for centroids C[k, D] (host f32, copied to the backend) and blocks of up to
 * `block_rows` rows (0: a block whose score matrix takes about 512 KiB, so that the arg-max reads
 * it from cache; 256 rows at least). WS_OK, or an error naming the GEMM path or the memory it
 * could not get. */
int nearest_create(ws_backend *be, km_metric metric, const float *C, int k, int D, int block_rows, nearest **out);
/* Replace the centroids (same k and D). */
int nearest_set_centroids(nearest *nn, const float *C);
/* For rows X[n, D] (host f32): idx[n] (nearest centroid) and dist[n] (see above). sqnorm[n] (L2
 * only; may be NULL: computed here) holds |x|^2 of each row, for callers that assign the same rows
 * again and again. Rows that are not to be assigned may hold anything; the caller ignores their
 * results. */
int nearest_run(nearest *nn, const float *X, const double *sqnorm, int64_t n, int32_t *idx, float *dist);
/* The rows of one block (n up to this runs as one GEMM and one arg-max). */
int nearest_block(const nearest *nn);
void nearest_free(nearest *nn);

#endif
