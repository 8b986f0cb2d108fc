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

int backend_device_count(const char *name) {
    if (!strcmp(name, "cpu")) return 1;
    if (!strcmp(name, "cuda")) {
#ifdef WEBSSL_HAVE_CUDA
        return backend_cuda_device_count();
#else
        return ws_errorf(WS_ERR_UNSUPPORTED, "device 'cuda': this build has no CUDA backend (configure where nvcc is found)");
#endif
    }
    return ws_errorf(WS_ERR_ARG, "unknown device '%s' (expected cpu or cuda)", name);
}

int backend_memory_info(const char *name, int device, size_t *free_bytes, size_t *total_bytes) {
    *free_bytes = *total_bytes = 0;
    if (!strcmp(name, "cpu")) return backend_cpu_memory_info(free_bytes, total_bytes);
    if (!strcmp(name, "cuda")) {
#ifdef WEBSSL_HAVE_CUDA
        return backend_cuda_memory_info(device, free_bytes, total_bytes);
#else
        return ws_errorf(WS_ERR_UNSUPPORTED, "device 'cuda': this build has no CUDA backend");
#endif
    }
    return ws_errorf(WS_ERR_ARG, "unknown device '%s' (expected cpu or cuda)", name);
}
