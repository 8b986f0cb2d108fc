/* Host memory as the CPU backend's device memory (backend_memory_info "cpu"): the available
 * physical pages (sysconf _SC_AVPHYS_PAGES) and all physical pages. */
#include "backend/backend.h"
#include "common/error.h"

#include <unistd.h>

int backend_cpu_memory_info(size_t *free_bytes, size_t *total_bytes) {
    long avail = sysconf(_SC_AVPHYS_PAGES), total = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (avail <= 0 || total <= 0 || page <= 0)
        return ws_errorf(WS_ERR_IO, "device 'cpu': cannot read the host memory (sysconf)");
    *free_bytes = (size_t)avail * (size_t)page;
    *total_bytes = (size_t)total * (size_t)page;
    return WS_OK;
}
