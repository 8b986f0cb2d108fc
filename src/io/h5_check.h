/* HDF5 calls checked with the failing call named (as MPI_CHECK and CUDA_CHECK do): H5_CHECK(call) evaluates `call` (an
 * hid_t or herr_t); when it is negative it records "file:line: call failed: <HDF5's own message>"
 * with ws_errorf(WS_ERR_IO) and returns WS_ERR_IO from the enclosing function, which must return
 * an int (WS_ERR_NOSPACE instead when the operating system said ENOSPC or EDQUOT). H5_TRY(rc,
 * call) is the same check for a run of calls followed by one cleanup: while `rc` is WS_OK it
 * evaluates `call` and, when that fails, records the message and sets `rc` to the code; once `rc`
 * holds an error it evaluates nothing. HDF5 failures are recoverable here (a
 * full disk fails one output file, not the run). */
#ifndef WEBSSL_IO_H5_CHECK_H
#define WEBSSL_IO_H5_CHECK_H

#include <stddef.h>

#include "common/error.h"

/* The message of both; `text` is the call as written (stringified before macro expansion). The
 * code is WS_ERR_NOSPACE when the file system is full, else WS_ERR_IO. */
#define H5_FAILED_(text) \
    ws_errorf(h5_error_code(), "%s:%d: %s failed: %s", __FILE__, __LINE__, text, h5_error_text((char[320]){0}, 320))

#define H5_CHECK(call) \
    do { if ((call) < 0) return H5_FAILED_(#call); } while (0)

#define H5_TRY(rc, call) \
    do { if ((rc) == WS_OK && (call) < 0) (rc) = H5_FAILED_(#call); } while (0)

/* The API-level message on this thread's HDF5 error stack with its function, e.g. "unable to
 * create dataset (H5Dcreate2)", followed by the operating system's error when a file driver
 * recorded one (": No space left on device"); "unknown error" when the stack is empty. */
const char *h5_error_text(char *buf, size_t len);
/* WS_ERR_NOSPACE when the stack records ENOSPC or EDQUOT, else WS_ERR_IO. */
int h5_error_code(void);

/* Process-wide setup before the first HDF5 call: no error stack printing (errors go through
 * ws_errorf) and no HDF5 atexit handler (after a failed H5Fclose, e.g. disk full, the library
 * keeps a half-closed file that its exit handler would crash on). Idempotent. */
void h5_lib_init(void);

#endif
