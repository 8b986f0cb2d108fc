/* Picks a compute backend by name (see backend.h); the only file that knows which exist. */
#include "backend/backend.h"
#include "common/error.h"

#include <string.h>

int backend_create(const char *name, int threads, int device, ws_backend **out) {
    *out = NULL;
    if (!strcmp(name, "cpu")) return backend_cpu_create(threads, out);
    if (!strcmp(name, "cuda")) {
#ifdef WEBSSL_HAVE_CUDA
        return backend_cuda_create(device, out);
#else
        return ws_errorf(WS_ERR_UNSUPPORTED, "device 'cuda': this build has no CUDA backend");
#endif
    }
    return ws_errorf(WS_ERR_ARG, "unknown device '%s' (expected cpu or cuda)", name);
}

void backend_free(ws_backend *be) {
    if (be) be->ops->destroy(be);
}
