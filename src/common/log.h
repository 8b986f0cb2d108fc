/* Rank-prefixed logging to stderr: "[rank 3/8] warn: message"; error lines (fatal ones included,
 * common/check.h) also name the host, "[rank 3/8 on gpu017] error: message", so a failure among
 * many ranks can be found in a job's log (as nccl-tests' TESTCHECK does). Level from WEBSSL_LOG
 * (debug, info, warn, error; default info). Thread-safe: one fprintf per line. */
#ifndef WEBSSL_COMMON_LOG_H
#define WEBSSL_COMMON_LOG_H

typedef enum { WS_LOG_DEBUG = 0, WS_LOG_INFO, WS_LOG_WARN, WS_LOG_ERROR } ws_log_level;

/* Set the rank prefix (and read the host name); before this is called (or with world <= 1) lines
 * carry no rank and no host. comm/topology.c calls it as soon as MPI is up. */
void ws_log_set_rank(int rank, int world);
void ws_log_set_level(ws_log_level level);
int ws_log_enabled(ws_log_level level);
void ws_log(ws_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define LOG_DEBUG(...) ws_log(WS_LOG_DEBUG, __VA_ARGS__)
#define LOG_INFO(...) ws_log(WS_LOG_INFO, __VA_ARGS__)
#define LOG_WARN(...) ws_log(WS_LOG_WARN, __VA_ARGS__)
#define LOG_ERROR(...) ws_log(WS_LOG_ERROR, __VA_ARGS__)

#endif
