/* Per-image status codes: the int8 `status` column of every output row. 0 is a good image; any
 * other value means the row's pixels and features are zero and a log line (shard, key, reason)
 * was written. The values are part of the output format: never renumber, only append. */
#ifndef WEBSSL_DATA_IMAGE_STATUS_H
#define WEBSSL_DATA_IMAGE_STATUS_H

#include <stdint.h>

typedef enum {
    WS_IMG_OK = 0,           /* decoded and preprocessed */
    WS_IMG_READ_ERROR = 1,   /* the bytes could not be read: unreadable file, tar member cut short */
    WS_IMG_EMPTY = 2,        /* zero-byte file or member */
    WS_IMG_DECODE_ERROR = 3, /* recognised format but corrupt or truncated data */
    WS_IMG_UNSUPPORTED = 4,  /* not an image, or a format/variant this program does not decode */
    WS_IMG_TOO_LARGE = 5,    /* header claims more pixels than the limit, or member too big */
    WS_IMG_NO_IMAGE = 6,     /* WebDataset sample without a member of an image extension */
    WS_IMG_RETRY = 7,        /* the bytes could not be read for a reason that may heal (permission
                              * denied, an I/O or network error): the shard is redone by the next run */
    WS_IMG_STATUS_COUNT
} ws_image_status;

/* Short constant description, e.g. "decode error". */
const char *image_status_name(int status);
/* Map a ws_err code from a decoder or reader to a status (WS_OK -> WS_IMG_OK). */
int8_t image_status_from_err(int err);
/* The status of an image that could not be read, from the errno of the failed call: WS_IMG_RETRY
 * when the cause may go away (EACCES, EPERM, EIO, ENOMEM, a timeout, a stale or unreachable
 * network file system...), else WS_IMG_READ_ERROR (no such file, not a regular file, a loop of
 * links...: only a change of the input, which its manifest notices, helps). */
int8_t image_status_from_errno(int err);

#endif
