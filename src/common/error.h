/* Recoverable errors. Library functions return WS_OK (0) or a negative ws_err code and record a
 * human-readable message naming the input (file, tensor, argument) with ws_errorf(). Callers may
 * prepend context with ws_error_context(). Only the CLI decides to stop the program.
 * The message buffer is thread-local, so decoder threads do not clobber each other. */
#ifndef WEBSSL_COMMON_ERROR_H
#define WEBSSL_COMMON_ERROR_H

typedef enum {
    WS_OK = 0,
    WS_ERR_IO = -1,           /* open/read/write/rename failed */
    WS_ERR_FORMAT = -2,       /* malformed file: header, pickle, zip, image, tar */
    WS_ERR_SHAPE = -3,        /* tensor shape/dtype disagrees with the architecture */
    WS_ERR_ARG = -4,          /* bad flag or argument value */
    WS_ERR_NOMEM = -5,        /* allocation failed */
    WS_ERR_UNSUPPORTED = -6,  /* valid but not handled (dtype, codec, feature) */
    WS_ERR_COMM = -7,         /* MPI/NCCL failure */
    WS_ERR_DEVICE = -8,       /* CUDA failure or no device */
    WS_ERR_INTERRUPTED = -9,  /* stopped by a signal */
    WS_ERR_LIMIT = -10,       /* input exceeds a configured limit (pixels, nesting, size) */
    WS_ERR_NOSPACE = -11,     /* a write failed because the file system is full (ENOSPC, EDQUOT) */
} ws_err;

/* Record a message (printf-style) for the calling thread and return `code`. */
int ws_errorf(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prepend "context: " to the current message; returns `code` for `return ws_error_context(...)`. */
int ws_error_context(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The calling thread's last message ("" when none). Valid until the next ws_errorf on the thread. */
const char *ws_error_message(void);
void ws_error_clear(void);
/* The code of a failed write or read with errno `err`: WS_ERR_NOSPACE for a full file system
 * (ENOSPC, EDQUOT), else WS_ERR_IO. */
int ws_err_from_errno(int err);
/* Short constant name of a code, e.g. "format error". */
const char *ws_err_name(int code);

#endif
