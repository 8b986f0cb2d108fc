/* What the CPU files that use oneDNN (matmul_onednn.c, attention_onednn.c) share: checking its
 * calls, and the backend's one engine and stream. A failure (out of memory included) comes back
 * as an error naming the call, the file and line, like any other op's. DNNL_TRY(rc, call): rc
 * holds the first failure; later calls are skipped. Teardown has nothing to return to, so a
 * failure to release is logged (dnnl_release). */
#ifndef WEBSSL_BACKEND_CPU_ONEDNN_CHECK_H
#define WEBSSL_BACKEND_CPU_ONEDNN_CHECK_H

#include "backend/backend.h"
#include "common/error.h"
#include "common/log.h"

#include <oneapi/dnnl/dnnl.h>

/* The backend's oneDNN engine and stream, made at the first call (matmul_onednn.c); they live
 * until the backend is destroyed. WS_OK or the oneDNN error. */
int cpu_onednn_engine(ws_backend *be, dnnl_engine_t *eng, dnnl_stream_t *stream);

#define DNNL_TRY(rc, call) \
    do { if ((rc) == WS_OK) (rc) = dnnl_status_error((call), #call, __FILE__, __LINE__); } while (0)

static inline int dnnl_status_error(dnnl_status_t st, const char *call, const char *file, int line) {
    if (st == dnnl_success) return WS_OK;
    const char *what = st == dnnl_out_of_memory ? "out of memory" : st == dnnl_unimplemented ? "unimplemented"
                     : st == dnnl_invalid_arguments ? "invalid arguments" : st == dnnl_runtime_error ? "runtime error"
                     : "failed";
    return ws_errorf(st == dnnl_out_of_memory ? WS_ERR_NOMEM : st == dnnl_unimplemented ? WS_ERR_UNSUPPORTED
                     : WS_ERR_DEVICE, "%s:%d: oneDNN %s: %s (status %d)", file, line, call, what, (int)st);
}

static inline void dnnl_release(dnnl_status_t st, const char *what) {
    if (st != dnnl_success) LOG_WARN("oneDNN: releasing %s failed (status %d)", what, (int)st);
}

#endif
