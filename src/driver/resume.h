/* Resume: whether a shard's existing output can be kept, and whether a shard's inputs are as its
 * manifest says before and after they are read. A finished shard file is kept only when every
 * byte of it is as it was written (its checksum, io/shard_sum.h), it is complete, holds exactly
 * this run's datasets with this run's shapes and dtypes, was made from this shard's source, and
 * its stored manifest digest equals the manifest of the shard's inputs now
 * (data/shard_manifest.h). Otherwise the file is removed and the shard redone, with a log line
 * naming what differs (a damaged file: "checksum mismatch", "truncated"). A file under the
 * shard's name that this program did not write (or one too damaged to tell) is never removed: it
 * is renamed to `<name>.h5.moved.<seconds>` and the shard redone (when the rename fails, the
 * shard fails, naming the file). A symbolic link, a file another process has open for writing
 * ("in use") or one that cannot be read is left as it is and the shard fails, naming it. A
 * current file with rows of status WS_IMG_RETRY (its retry_count attribute) is redone too, but
 * kept until the new file replaces it. The check reads the whole file once (its checksum), then
 * its attributes and dataset headers, and the stored manifest only when the digests differ. */
#ifndef WEBSSL_DRIVER_RESUME_H
#define WEBSSL_DRIVER_RESUME_H

#include <stdint.h>

#include "data/input_spec.h"
#include "data/shard_manifest.h"
#include "io/h5_writer.h"

typedef enum {
    RESUME_SKIP,     /* the output is current: *count receives its image count */
    RESUME_REDO,     /* no output (any stale one removed): embed the shard */
    RESUME_FAIL,     /* the shard fails (a file this program did not write is in the way and cannot be moved) */
} resume_verdict;

resume_verdict resume_check_shard(const char *final, const ws_h5_layout *layout, const ws_shard *shard,
                                  const ws_manifest *manifest, int64_t *count);

/* Before a shard is read: WS_OK, or WS_ERR_IO when files of a directory shard no longer exist
 * (each was there when the directory was listed: it was removed or unmounted since), so that the
 * shard fails instead of becoming rows of read errors that a resume would keep. A list entry
 * that does not exist stays a read-error row: its manifest line says "missing", so the shard is
 * redone once the file appears. */
int resume_inputs_present(const ws_shard *shard, const ws_manifest *manifest);
/* After a shard is read: WS_OK when its inputs are still as its manifest (taken before the read)
 * says, else WS_ERR_IO naming the first change (a file removed, rewritten or added during the
 * read; a URL's file replaced, asked again with a HEAD request: `stream` as for
 * shard_manifest_build): the output would not match the manifest it stores, so the shard fails. */
int resume_inputs_unchanged(const ws_shard *shard, const ws_stream_opts *stream, const ws_manifest *manifest);

#endif
