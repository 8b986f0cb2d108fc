/* Shard reader: dispatches to the tar reader (over a file or a stream), or reads the listed files
 * of a FILES shard. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/file_open.h"
#include "data/image_status.h"
#include "data/shard_reader.h"
#include "data/tar_reader.h"

struct ws_shard_reader {
    const ws_shard *shard;
    tar_reader *tar;     /* TAR and STREAM shards */
    ws_stream *stream;   /* STREAM shards */
    int stream_failed;   /* the body went wrong after the tar's end */
    size_t next;         /* FILES shards: next file */
};

int shard_reader_open(const ws_shard *shard, const ws_stream_opts *stream, const char *image_exts,
                      ws_shard_reader **out) {
    *out = NULL;
    ws_shard_reader *r = calloc(1, sizeof *r);
    if (!r) return ws_errorf(WS_ERR_NOMEM, "out of memory opening shard %s", shard->name);
    r->shard = shard;
    if (shard->kind == WS_SHARD_TAR) {
        int rc = tar_reader_open(shard->path, image_exts, &r->tar);
        if (rc < 0) { free(r); return rc; }
    } else if (shard->kind == WS_SHARD_STREAM) {
        ws_stream_opts dflt;
        if (!stream) stream_opts_default(&dflt), stream = &dflt;
        int rc = stream_open(shard->path, stream, &r->stream);
        if (rc == WS_OK) rc = tar_reader_open_stream(r->stream, image_exts, &r->tar);
        if (rc < 0) { shard_reader_close(r); return rc; }
    }
    *out = r;
    return WS_OK;
}

/* A file that cannot be read gets a status by the cause (image_status_from_errno): a cause that
 * may heal marks the row for a retry. */
static void read_file(const char *path, ws_sample *s) {
    struct stat st;
    const char *why = NULL;
    int fd = ws_open_regular(path, &st, &why);
    FILE *f = fd >= 0 ? fdopen(fd, "rb") : NULL;
    if (!f) {
        int err = fd >= 0 ? ENOMEM : errno;
        if (fd >= 0) close(fd), why = "out of memory";
        s->status = image_status_from_errno(err);
        snprintf(s->reason, sizeof s->reason, "cannot read %s: %s", path, why);
    } else if (st.st_size == 0) {
        s->status = WS_IMG_EMPTY;
        snprintf(s->reason, sizeof s->reason, "zero-byte file");
    } else if ((uint64_t)st.st_size > WS_MAX_IMAGE_BYTES) {
        s->status = WS_IMG_TOO_LARGE;
        snprintf(s->reason, sizeof s->reason, "file of %lld bytes, over the %zu byte limit",
                 (long long)st.st_size, WS_MAX_IMAGE_BYTES);
    } else if (!(s->data = malloc((size_t)st.st_size)) ||
               fread(s->data, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
        int err = !s->data ? ENOMEM : ferror(f) ? errno : EIO;   /* EIO: the file shrank meanwhile */
        snprintf(s->reason, sizeof s->reason, "cannot read %s: %s", path,
                 !s->data ? "out of memory" : ferror(f) ? strerror(err) : "short read (the file shrank)");
        free(s->data);
        s->data = NULL;
        s->status = image_status_from_errno(err);
    } else {
        s->size = (size_t)st.st_size;
    }
    if (f) fclose(f);
}

int shard_reader_next(ws_shard_reader *r, ws_sample *s) {
    if (r->tar) {
        int more = tar_reader_next(r->tar, s, r->shard->name);
        if (!more && r->stream && !r->stream_failed && !tar_reader_damaged(r->tar, NULL))
            r->stream_failed = stream_finish(r->stream) != WS_OK;
        return more;
    }
    memset(s, 0, sizeof *s);
    if (r->next >= r->shard->nfiles) return 0;
    size_t i = r->next++;
    s->key = strdup(r->shard->keys[i]);
    if (!s->key) {
        s->status = WS_IMG_READ_ERROR;
        snprintf(s->reason, sizeof s->reason, "out of memory");
        return 1;
    }
    read_file(r->shard->files[i], s);
    return 1;
}

int shard_reader_damaged(const ws_shard_reader *r, const char **why) {
    if (r->stream_failed) {
        if (why) *why = stream_error(r->stream);
        return 1;
    }
    if (r->tar) return tar_reader_damaged(r->tar, why);
    if (why) *why = NULL;
    return 0;
}

void shard_reader_cancel(ws_shard_reader *r) {
    if (r->stream) stream_cancel(r->stream);
}

void shard_reader_close(ws_shard_reader *r) {
    if (!r) return;
    tar_reader_close(r->tar);
    stream_close(r->stream);
    free(r);
}

void sample_free(ws_sample *s) {
    if (!s) return;
    free(s->key);
    free(s->data);
    s->key = NULL;
    s->data = NULL;
}
