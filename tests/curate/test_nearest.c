/* The nearest-centroid step of k-means (curate/nearest.h: the backend's matmul + row_argmax)
 * against a float64 brute force on the host, cosine and L2, blocks smaller than the rows, on the
 * backend WEBSSL_TEST_DEVICE names (cpu by default; tests/emu runs it on the emulated CUDA backend,
 * so the cuBLASLt GEMM and the CUDA arg-max kernel are covered without a GPU). The index must match
 * wherever the two best centroids differ by more than 1e-5; the distance to 1e-5. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "backend/backend.h"
#include "common/error.h"
#include "curate/nearest.h"
#include "test_main.h"

static uint64_t seed = 42;

static float frand(void) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((seed >> 40) / (double)(1 << 24)) * 2.0f - 1.0f;
}

static void check_metric(ws_backend *be, km_metric metric) {
    const int n = 1000, k = 37, D = 48;
    float *X = malloc((size_t)n * D * sizeof(float)), *C = malloc((size_t)k * D * sizeof(float));
    for (int i = 0; i < n * D; i++) X[i] = frand();
    for (int i = 0; i < k * D; i++) C[i] = frand();
    if (metric == KM_COSINE) {
        for (int r = 0; r < n + k; r++) {
            float *v = r < n ? X + (size_t)r * D : C + (size_t)(r - n) * D;
            double s = 0;
            for (int d = 0; d < D; d++) s += (double)v[d] * v[d];
            for (int d = 0; d < D; d++) v[d] = (float)(v[d] / sqrt(s));
        }
    }
    int32_t *idx = malloc((size_t)n * sizeof(int32_t));
    float *dist = malloc((size_t)n * sizeof(float));
    nearest *nn;
    ck_assert_msg(nearest_create(be, metric, C, k, D, 128, &nn) == WS_OK, "%s", ws_error_message());
    ck_assert_msg(nearest_run(nn, X, NULL, n, idx, dist) == WS_OK, "%s", ws_error_message());
    double max_err = 0;
    int checked = 0;
    for (int i = 0; i < n; i++) {
        double best = INFINITY, second = INFINITY;
        int bi = -1;
        for (int c = 0; c < k; c++) {
            double dd = 0, dot = 0;
            for (int d = 0; d < D; d++) {
                const double a = X[(size_t)i * D + d], b = C[(size_t)c * D + d];
                dd += (a - b) * (a - b), dot += a * b;
            }
            const double v = metric == KM_COSINE ? 1.0 - dot : dd;
            if (v < best) second = best, best = v, bi = c;
            else if (v < second) second = v;
        }
        if (second - best > 1e-5) {
            ck_assert_msg(idx[i] == bi, "row %d: nearest %d, expected %d", i, idx[i], bi);
            checked++;
        }
        max_err = fmax(max_err, fabs(dist[i] - best));
    }
    printf("nearest on %s, %s: %d/%d rows with a clear nearest centroid all match; distance max abs err %.3e\n",
           be->ops->name, metric == KM_COSINE ? "cosine" : "l2", checked, n, max_err);
    ck_assert_msg(max_err <= 1e-5, "distance error %.3e > tolerance 1e-5", max_err);
    nearest_free(nn);
    free(X), free(C), free(idx), free(dist);
}

START_TEST(test_nearest) {
    const char *dev = getenv("WEBSSL_TEST_DEVICE") ? getenv("WEBSSL_TEST_DEVICE") : "cpu";
    ws_backend *be;
    ck_assert_msg(backend_create(dev, 2, 0, &be) == WS_OK, "%s", ws_error_message());
    check_metric(be, KM_COSINE);
    check_metric(be, KM_L2);
    backend_free(be);
}
END_TEST

int main(void) {
    const char *dev = getenv("WEBSSL_TEST_DEVICE");
    if (dev && backend_device_count(dev) <= 0) {
        printf("SKIP: no %s device visible\n", dev);
        return 77;
    }
    const test_case cases[] = {{"nearest", test_nearest}};
    return test_run_cases("curate_nearest", cases, 1, NULL, NULL, 300);
}
