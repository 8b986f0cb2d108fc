/* Resume check of one shard's output file (see resume.h). */
#include "driver/resume.h"
#include "common/error.h"
#include "common/escape.h"
#include "common/log.h"
#include "io/shard_sum.h"
#include "data/image_status.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Why the kept file does not belong to this shard any more, into why; 0 when it does. */
static int stale_reason(const char *final, const ws_h5_shard_info *info, const ws_shard *s,
                        const ws_manifest *m, char *why, size_t len) {
    char *source = ws_escape_bytes(s->display);
    int moved = source && strcmp(source, info->source) != 0;
    if (moved) snprintf(why, len, "it was made from '%.1000s', this run's shard is '%.1000s'", info->source, source);
    free(source);
    if (moved) return 1;
    if (!info->manifest_digest[0]) {
        snprintf(why, len, "it holds no manifest of its inputs (written by an older version)");
        return 1;
    }
    if (!strcmp(info->manifest_digest, m->digest)) return 0;
    char *was = NULL, diff[400];
    if (h5_shard_read_manifest(final, &was) == WS_OK) shard_manifest_diff(was, m->text, diff, sizeof diff);
    else snprintf(diff, sizeof diff, "the stored manifest is unreadable");
    free(was);
    snprintf(why, len, "its inputs changed since it was written: %s", diff);
    return 1;
}

/* A file under the shard's name that this program did not write (or one of ours damaged beyond
 * reading): its bytes are kept under another name and the shard redone. */
static resume_verdict move_aside(const char *final, const ws_shard *s, const char *why) {
    char aside[4200];
    snprintf(aside, sizeof aside, "%s.moved.%lld", final, (long long)time(NULL));
    if (rename(final, aside) != 0) {
        LOG_ERROR("shard %s: %s is not a shard file written by webssl-dist (%s) and cannot be moved aside: %s",
                  s->name, final, why, strerror(errno));
        return RESUME_FAIL;
    }
    LOG_WARN("shard %s: %s is not a shard file written by webssl-dist (%s); moved it to %s and redoing the shard",
             s->name, final, why, aside);
    return RESUME_REDO;
}

resume_verdict resume_check_shard(const char *final, const ws_h5_layout *layout, const ws_shard *s,
                                  const ws_manifest *m, int64_t *count) {
    char why[2600];
    shard_state state = shard_sum_check(final, why, sizeof why);   /* reads every byte */
    switch (state) {
    case SHARD_ABSENT: return RESUME_REDO;   /* not written yet */
    case SHARD_IRREGULAR: return move_aside(final, s, why);
    case SHARD_LINK:
    case SHARD_IN_USE:
    case SHARD_UNREADABLE:   /* left as it is: the shard fails, naming it */
        LOG_ERROR("shard %s: %s: %s; left as it is, the shard is not redone", s->name, final, why);
        return RESUME_FAIL;
    case SHARD_CORRUPT:
        LOG_WARN("shard %s: redoing it, %s is damaged: %s", s->name, final, why);
        unlink(final);
        return RESUME_REDO;
    case SHARD_NO_SUM:
    case SHARD_OK: break;
    }
    ws_h5_shard_info info;
    int rc = h5_shard_check(final, layout, &info);
    if (rc == WS_ERR_IO) {   /* removed, replaced by a link or opened for writing since the check */
        LOG_ERROR("shard %s: %s; left as it is, the shard is not redone", s->name, ws_error_message());
        return RESUME_FAIL;
    }
    if (!info.ours) {   /* a user's file, or one of ours damaged beyond reading: keep its bytes */
        snprintf(why, sizeof why, "%s", ws_error_message());
        return move_aside(final, s, why);
    }
    if (state == SHARD_NO_SUM) snprintf(why, sizeof why, "it holds no checksum (written by an older version, or its first bytes were overwritten)");
    else if (rc != WS_OK) snprintf(why, sizeof why, "%s", ws_error_message());
    else if (!stale_reason(final, &info, s, m, why, sizeof why)) {
        if (info.retry_count > 0) {   /* kept until the redo replaces it: its rows are still of use */
            LOG_WARN("shard %s: redoing it, %lld image(s) could not be read for a reason that may heal (status %d, %s)",
                     s->name, (long long)info.retry_count, WS_IMG_RETRY, image_status_name(WS_IMG_RETRY));
            return RESUME_REDO;
        }
        *count = info.count;
        return RESUME_SKIP;
    }
    LOG_WARN("shard %s: redoing it, %s", s->name, why);
    unlink(final);
    return RESUME_REDO;
}

int resume_inputs_present(const ws_shard *s, const ws_manifest *m) {
    if (s->kind != WS_SHARD_FILES || !s->from_dir || !m->missing) return WS_OK;
    return ws_errorf(WS_ERR_IO, "%zu file(s) of directory %s vanished since it was listed, first %s", m->missing,
                     s->path, m->first_missing);
}

int resume_inputs_unchanged(const ws_shard *s, const ws_stream_opts *stream, const ws_manifest *m) {
    ws_manifest now;
    int rc = shard_manifest_build(s, stream, &now);
    if (rc != WS_OK) return rc;
    if (strcmp(now.digest, m->digest) != 0) {
        char diff[400];
        shard_manifest_diff(m->text, now.text, diff, sizeof diff);
        rc = ws_errorf(WS_ERR_IO, "its inputs changed while it was read: %s", diff);
    }
    shard_manifest_free(&now);
    return rc;
}
