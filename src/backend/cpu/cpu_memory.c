/* CPU host memory check (see cpu_memory.h). */
#include "backend/cpu/cpu_memory.h"
#include "common/error.h"
#include "model/cost_model.h"

#include <omp.h>

static const double GIB = 1024.0 * 1024.0 * 1024.0;

int cpu_memory_check(const ws_arch *a, int res, int B, int tp, ws_dtype dt, int threads, int ranks_per_node) {
    ws_cost c;
    int rc = cost_compute(a, res, B, tp, dt, &c);
    if (rc != WS_OK) return rc;
    int T = threads > 0 ? threads : omp_get_max_threads();
    double scores = (double)c.N * (double)c.N * sizeof(float);   /* one per thread (attention.c) */
    double need = cost_rank_bytes(&c) + scores * T;
    double have = cost_host_memory_per_rank(ranks_per_node);
    if (have <= 0 || need <= have) return WS_OK;
    return ws_errorf(WS_ERR_LIMIT,
                     "--resolution %d, --batch %d: %s needs about %.1f GiB per rank (%d tokens per image: "
                     "attention scores %.2f GiB per thread x %d threads, weights and activations %.2f GiB) "
                     "but %.1f GiB are available per rank; lower --resolution or --batch",
                     res, B, a->name, need / GIB, c.N, scores / GIB, T, cost_rank_bytes(&c) / GIB, have / GIB);
}
