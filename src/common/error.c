/* Thread-local error messages for recoverable failures (see error.h). */
#include "common/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define WS_ERROR_MAX 1024
static _Thread_local char error_message[WS_ERROR_MAX];

int ws_errorf(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_message, sizeof error_message, fmt, ap);
    va_end(ap);
    return code;
}

int ws_error_context(int code, const char *fmt, ...) {
    char prefix[WS_ERROR_MAX], old[WS_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, error_message, sizeof old);
    snprintf(error_message, sizeof error_message, "%.500s: %.500s", prefix, old);
    return code;
}

const char *ws_error_message(void) { return error_message; }

void ws_error_clear(void) { error_message[0] = '\0'; }

const char *ws_err_name(int code) {
    switch (code) {
    case WS_OK: return "ok";
    case WS_ERR_IO: return "I/O error";
    case WS_ERR_FORMAT: return "format error";
    case WS_ERR_SHAPE: return "shape error";
    case WS_ERR_ARG: return "argument error";
    case WS_ERR_NOMEM: return "out of memory";
    case WS_ERR_UNSUPPORTED: return "unsupported";
    case WS_ERR_COMM: return "communication error";
    case WS_ERR_DEVICE: return "device error";
    case WS_ERR_INTERRUPTED: return "interrupted";
    case WS_ERR_LIMIT: return "limit exceeded";
    case WS_ERR_NOSPACE: return "no space left";
    default: return "error";
    }
}

int ws_err_from_errno(int err) {
    return err == ENOSPC || err == EDQUOT ? WS_ERR_NOSPACE : WS_ERR_IO;
}
