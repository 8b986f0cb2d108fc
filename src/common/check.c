/* Fatal stop for unrecoverable library failures (see check.h). */
#include "common/check.h"
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static void (*stop_hook)(void);

void ws_fatal_set_stop(void (*stop)(void)) { stop_hook = stop; }

void ws_fatal(const char *file, int line, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ws_log(WS_LOG_ERROR, "%s:%d: %s", file, line, msg);
    if (stop_hook) stop_hook();
    abort();
}
