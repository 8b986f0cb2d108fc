/* Host memory as the CPU backend's device memory (backend_memory_info "cpu"): MemAvailable from
 * /proc/meminfo (what can be allocated without swapping, page cache included), or the free pages
 * (sysconf _SC_AVPHYS_PAGES) where that file cannot be read; the total is all physical pages. */
#include "backend/backend.h"
#include "common/error.h"

#include <stdio.h>
#include <unistd.h>

/* MemAvailable in bytes, 0 when /proc/meminfo cannot be read. */
static size_t mem_available(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[256];
    unsigned long long kib = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %llu kB", &kib) == 1) break;
    fclose(f);
    return (size_t)kib * 1024;
}

int backend_cpu_memory_info(size_t *free_bytes, size_t *total_bytes) {
    long avail = sysconf(_SC_AVPHYS_PAGES), total = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (avail <= 0 || total <= 0 || page <= 0)
        return ws_errorf(WS_ERR_IO, "device 'cpu': cannot read the host memory (sysconf)");
    const size_t available = mem_available();
    *free_bytes = available ? available : (size_t)avail * (size_t)page;
    *total_bytes = (size_t)total * (size_t)page;
    return WS_OK;
}
