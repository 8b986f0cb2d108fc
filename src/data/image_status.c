/* Names of the per-image status codes and their mapping from ws_err codes and errno values. */
#include <errno.h>

#include "common/error.h"
#include "data/image_status.h"

const char *image_status_name(int status) {
    static const char *names[WS_IMG_STATUS_COUNT] = {
        "ok", "read error", "empty", "decode error", "unsupported format", "too large",
        "no image member", "read error, retry",
    };
    return status >= 0 && status < WS_IMG_STATUS_COUNT ? names[status] : "unknown status";
}

int8_t image_status_from_err(int err) {
    switch (err) {
    case WS_OK: return WS_IMG_OK;
    case WS_ERR_IO: return WS_IMG_READ_ERROR;
    case WS_ERR_UNSUPPORTED: return WS_IMG_UNSUPPORTED;
    case WS_ERR_LIMIT: return WS_IMG_TOO_LARGE;
    default: return WS_IMG_DECODE_ERROR;
    }
}

int8_t image_status_from_errno(int err) {
    switch (err) {
    case EACCES: case EPERM: case EIO: case ENOMEM: case EAGAIN: case EBUSY: case EINTR: case ETIMEDOUT:
    case ESTALE: case EMFILE: case ENFILE: case ENOLCK: case ENOBUFS: case ENOLINK: case EREMOTEIO:
    case ECOMM: case ENOTCONN: case ECONNRESET: case ECONNABORTED: case ECONNREFUSED: case EHOSTDOWN:
    case EHOSTUNREACH: case ENETDOWN: case ENETUNREACH: case ENETRESET: case ENOMEDIUM:
        return WS_IMG_RETRY;
    default:
        return WS_IMG_READ_ERROR;
    }
}
