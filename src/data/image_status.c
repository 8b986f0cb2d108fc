/* Names of the per-image status codes and their mapping from ws_err codes. */
#include "common/error.h"
#include "data/image_status.h"

const char *image_status_name(int status) {
    static const char *names[WS_IMG_STATUS_COUNT] = {
        "ok", "read error", "empty", "decode error", "unsupported format", "too large",
        "no image member",
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
