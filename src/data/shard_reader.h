/* Sequential reader of one shard's samples, in input order.
 * TAR (WebDataset, read with libarchive, streaming): a sample is the group of consecutive members
 * sharing a key, as webdataset groups them (data/wds_name.h: "a/b/000123.depth.png" has key
 * "a/b/000123" and extension "depth.png"; members without an extension are skipped); its image is
 * the member whose extension comes first in the image extension list (default
 * jpg;jpeg;png;webp;bmp;gif, any case); other members (txt, json, depth.png...) are skipped. A key
 * that reappears later is a new sample (logged). FILES: one sample per path; key = shard->keys[i]. STREAM: a tar read from
 * a URL or a pipe: command (data/stream.h), with nothing on local disk; a stream that fails after
 * its retries, that ends without the tar's end-of-archive blocks (an empty body included), or
 * whose body does not end well after them, is damage.
 * Per-sample problems (unreadable file, no image member, member larger than the limit, member cut
 * short) come back as a sample with a non-zero status and a reason; the shard goes on. A file
 * that cannot be read for a reason that may heal (EACCES, EIO...) gets WS_IMG_RETRY. Damage to
 * the container itself (truncated tar, garbage header) ends the shard: every sample before the
 * damage has been returned, shard_reader_damaged() then says so and why. A FILES member that
 * is not a regular file (FIFO, device) is a read-error row, opened without blocking. */
#ifndef WEBSSL_DATA_SHARD_READER_H
#define WEBSSL_DATA_SHARD_READER_H

#include <stddef.h>
#include <stdint.h>

#include "data/input_spec.h"
#include "data/stream.h"

typedef struct {
    char *key;           /* owned by the sample */
    uint8_t *data;       /* image bytes (owned; NULL when status != 0) */
    size_t size;
    int8_t status;       /* ws_image_status: 0 when the bytes were read */
    char reason[160];    /* why status != 0 ("" otherwise) */
} ws_sample;

typedef struct ws_shard_reader ws_shard_reader;

/* Largest image member or file read into memory (bytes); larger ones get WS_IMG_TOO_LARGE. */
#define WS_MAX_IMAGE_BYTES ((size_t)256 << 20)

/* Open `shard` (borrowed; must outlive the reader); `stream` (copied) says how STREAM shards
 * retry, and may be NULL for the defaults; `image_exts` (copied; NULL: the default) lists the
 * extensions a tar sample's image is taken from. WS_OK, or WS_ERR_IO when a tar cannot be opened, is
 * not a regular file or is empty (0 bytes; message names the file). A tar whose first header is
 * garbage, and any stream, open fine and report damage on a read. */
int shard_reader_open(const ws_shard *shard, const ws_stream_opts *stream, const char *image_exts,
                      ws_shard_reader **out);
/* Next sample into *s (previous contents are not freed: call sample_free).
 * Returns 1 with a sample, 0 at the end of the shard (normal or after damage). */
int shard_reader_next(ws_shard_reader *r, ws_sample *s);
/* After the end: 1 when the shard ended on damage, with a reason in `why` (may be NULL). */
int shard_reader_damaged(const ws_shard_reader *r, const char **why);
/* From another thread: a STREAM shard's read in progress, and every later one, fails within about
 * 0.1 s (the shard ends as damaged); no effect on other kinds. */
void shard_reader_cancel(ws_shard_reader *r);
void shard_reader_close(ws_shard_reader *r);
void sample_free(ws_sample *s);

#endif
