/* Rank-prefixed logging (see log.h). */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int log_rank = -1, log_world = 0;
static char log_host[256] = "?";
static int log_level = -1;

void ws_log_set_rank(int rank, int world) {
    log_rank = rank;
    log_world = world;
    if (gethostname(log_host, sizeof log_host) != 0) snprintf(log_host, sizeof log_host, "?");
    log_host[sizeof log_host - 1] = '\0';
}

void ws_log_set_level(ws_log_level level) { log_level = (int)level; }

static int level_from_env(void) {
    const char *s = getenv("WEBSSL_LOG");
    if (!s) return WS_LOG_INFO;
    if (!strcmp(s, "debug")) return WS_LOG_DEBUG;
    if (!strcmp(s, "warn")) return WS_LOG_WARN;
    if (!strcmp(s, "error")) return WS_LOG_ERROR;
    return WS_LOG_INFO;
}

int ws_log_enabled(ws_log_level level) {
    if (log_level < 0) log_level = level_from_env();
    return (int)level >= log_level;
}

void ws_log(ws_log_level level, const char *fmt, ...) {
    static const char *names[] = {"debug", "info", "warn", "error"};
    if (!ws_log_enabled(level)) return;
    char msg[2048], prefix[320] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (log_world > 1 && level == WS_LOG_ERROR)
        snprintf(prefix, sizeof prefix, "[rank %d/%d on %s] ", log_rank, log_world, log_host);
    else if (log_world > 1)
        snprintf(prefix, sizeof prefix, "[rank %d/%d] ", log_rank, log_world);
    fprintf(stderr, "%s%s: %s\n", prefix, names[level], msg);
}
