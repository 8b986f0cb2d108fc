/* Streaming WebDataset tar reader on libarchive: groups consecutive members by key (webdataset's
 * rule, data/wds_name.h), keeps the bytes of the member whose extension comes first in the image
 * extension list, stops cleanly at a truncated member or a damaged header. A streamed tar must
 * also end with its end-of-archive blocks (see check_stream_end). */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/file_open.h"
#include "common/log.h"
#include "data/image_status.h"
#include "data/tar_reader.h"
#include "data/wds_name.h"

#define STREAM_BLOCK (1 << 16)

struct tar_reader {
    struct archive *a;
    int fd;                   /* the tar file (-1 for in-memory tars) */
    int done, damaged;
    char why[256];
    char *image_exts;         /* the image extensions, in order of preference (wds_name.h) */
    char *pending_key;        /* key of a member header read but not yet consumed */
    int pending_rank;         /* that member's place in image_exts (-1: not an image) */
    char *pending_name;       /* that member's path (for messages) */
    int64_t pending_size;
    ws_stream *stream;        /* streamed shards: the source, read into block */
    char *block;
    int stream_opened;        /* archive_read_open done (on the first read) */
    int in_member;            /* a member's data is not consumed to its end yet */
    int64_t member_end;       /* streams: tar bytes (after decompression) up to the last member's end */
    uint64_t *seen;           /* hashes of the keys seen, open addressing (0 = empty) */
    size_t seen_cap, seen_n;
};

/* Record `key`; 1 when it was seen before (a non-adjacent repeat). Hash collisions only cost a
 * spurious log line. */
static int seen_insert(tar_reader *t, const char *key) {
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) h = (h ^ *p) * 1099511628211ull;
    if (!h) h = 1;
    if (2 * (t->seen_n + 1) > t->seen_cap) {
        size_t cap = t->seen_cap ? 2 * t->seen_cap : 1024;
        uint64_t *s = calloc(cap, sizeof *s);
        if (!s) return 0;
        for (size_t i = 0; i < t->seen_cap; i++) {
            if (!t->seen[i]) continue;
            size_t j = t->seen[i] & (cap - 1);
            while (s[j]) j = (j + 1) & (cap - 1);
            s[j] = t->seen[i];
        }
        free(t->seen);
        t->seen = s;
        t->seen_cap = cap;
    }
    size_t j = h & (t->seen_cap - 1);
    while (t->seen[j]) {
        if (t->seen[j] == h) return 1;
        j = (j + 1) & (t->seen_cap - 1);
    }
    t->seen[j] = h;
    t->seen_n++;
    return 0;
}

static void set_damaged(tar_reader *t, const char *what) {
    t->done = t->damaged = 1;
    const char *msg = t->stream && *stream_error(t->stream) ? stream_error(t->stream)   /* the cause */
                                                            : archive_error_string(t->a);
    snprintf(t->why, sizeof t->why, "%s: %s", what, msg ? msg : "unknown libarchive error");
}

static tar_reader *tar_reader_new(const char *image_exts) {
    tar_reader *t = calloc(1, sizeof *t);
    if (!t || !(t->image_exts = strdup(image_exts ? image_exts : WDS_IMAGE_EXTS_DEFAULT)) ||
        !(t->a = archive_read_new())) {
        if (t) free(t->image_exts);
        free(t);
        return NULL;
    }
    t->fd = -1;
    archive_read_support_format_tar(t->a);
    archive_read_support_format_empty(t->a);
    archive_read_support_filter_all(t->a);
    return t;
}

int tar_reader_open(const char *path, const char *image_exts, tar_reader **out) {
    *out = NULL;
    struct stat st;
    const char *why = NULL;
    int fd = ws_open_regular(path, &st, &why);
    if (fd < 0) return ws_errorf(WS_ERR_IO, "cannot open shard %s: %s", path, why);
    if (st.st_size == 0) {   /* GNU tar and Python's tarfile refuse it too: an unfinished copy */
        close(fd);
        return ws_errorf(WS_ERR_IO, "shard %s is an empty (0-byte) file, not a tar", path);
    }
    tar_reader *t = tar_reader_new(image_exts);
    if (!t) {
        close(fd);
        return ws_errorf(WS_ERR_NOMEM, "out of memory opening %s", path);
    }
    if (archive_read_open_fd(t->a, fd, 1 << 16) != ARCHIVE_OK) set_damaged(t, "not a readable tar");
    t->fd = fd;
    *out = t;
    return WS_OK;
}

/* libarchive's read callback over a stream. */
static la_ssize_t stream_cb(struct archive *a, void *arg, const void **buf) {
    tar_reader *t = arg;
    ssize_t n = stream_read(t->stream, t->block, STREAM_BLOCK);
    if (n < 0) archive_set_error(a, EIO, "%s", stream_error(t->stream));
    *buf = t->block;
    return n;
}

int tar_reader_open_stream(ws_stream *s, const char *image_exts, tar_reader **out) {
    tar_reader *t = tar_reader_new(image_exts);
    *out = t;
    if (!t || !(t->block = malloc(STREAM_BLOCK))) {
        tar_reader_close(t);
        *out = NULL;
        return ws_errorf(WS_ERR_NOMEM, "out of memory opening %s", stream_display(s));
    }
    t->stream = s;   /* opened on the first read: libarchive reads as it opens, and that may wait */
    return WS_OK;
}

int tar_reader_open_memory(const void *data, size_t size, const char *image_exts, tar_reader **out) {
    tar_reader *t = tar_reader_new(image_exts);
    *out = t;
    if (!t) return ws_errorf(WS_ERR_NOMEM, "out of memory opening an in-memory tar");
    if (archive_read_open_memory(t->a, data, size) != ARCHIVE_OK) set_damaged(t, "not a readable tar");
    return WS_OK;
}

/* A streamed tar has ended only when its end-of-archive blocks (two zero 512-byte blocks) follow
 * the last member: libarchive also reports the end of an empty body, and of one that stops
 * right after a member (some writers omit the blocks), and a stream cut there would pass for a
 * shorter shard. libarchive consumes both blocks at the end exactly when both are there, so the
 * tar bytes it took past the last member tell (libarchive offers no flag for it). A stream that
 * failed before libarchive knew the format reaches here too: libarchive took it for empty. */
static void check_stream_end(tar_reader *t) {
    if (*stream_error(t->stream)) {   /* a failure while libarchive was still guessing the format */
        t->damaged = 1;
        snprintf(t->why, sizeof t->why, "%s", stream_error(t->stream));
    } else if (archive_filter_bytes(t->a, -1) == 0) {
        t->damaged = 1;
        snprintf(t->why, sizeof t->why, "the body is empty (0 bytes), not a tar");
    } else if (archive_filter_bytes(t->a, 0) - t->member_end != 1024) {
        t->damaged = 1;
        snprintf(t->why, sizeof t->why, "the tar stops after a member without its end-of-archive blocks "
                 "(two zero 512-byte blocks): cut short");
    }
}

/* Read the next regular member's header into pending_*; 0 at the end or on damage. Members
 * webdataset skips (no extension, metadata names) are skipped here too. */
static int next_member(tar_reader *t) {
    for (;;) {
        if (t->stream) {   /* the last member's data and padding consumed: where the end blocks go */
            if (t->in_member && archive_read_data_skip(t->a) != ARCHIVE_OK) { set_damaged(t, "truncated tar"); return 0; }
            t->in_member = 0;
            t->member_end = archive_filter_bytes(t->a, 0);
        }
        struct archive_entry *e;
        int r = archive_read_next_header(t->a, &e);
        if (r == ARCHIVE_EOF) {
            t->done = 1;
            if (t->stream) check_stream_end(t);
            return 0;
        }
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) { set_damaged(t, "damaged tar header"); return 0; }
        t->in_member = 1;
        if (archive_entry_filetype(e) != AE_IFREG) continue;
        const char *path = archive_entry_pathname(e), *ext;
        size_t klen;
        if (!path || !wds_split_name(path, &klen, &ext)) continue;
        t->pending_key = strndup(path, klen);
        t->pending_name = strdup(path);
        if (!t->pending_key || !t->pending_name) {
            free(t->pending_key);
            free(t->pending_name);
            t->pending_key = t->pending_name = NULL;
            t->done = t->damaged = 1;
            snprintf(t->why, sizeof t->why, "out of memory");
            return 0;
        }
        t->pending_rank = wds_ext_rank(t->image_exts, ext);
        t->pending_size = archive_entry_size_is_set(e) ? archive_entry_size(e) : -1;
        return 1;
    }
}

/* Read the pending member's bytes into s. Returns 0 when the tar ended inside the member. */
static int read_member(tar_reader *t, ws_sample *s) {
    if (t->pending_size > (int64_t)WS_MAX_IMAGE_BYTES) {
        s->status = WS_IMG_TOO_LARGE;
        snprintf(s->reason, sizeof s->reason, "member of %lld bytes, over the %zu byte limit",
                 (long long)t->pending_size, WS_MAX_IMAGE_BYTES);
        if (archive_read_data_skip(t->a) != ARCHIVE_OK) return set_damaged(t, "truncated tar"), 0;
        t->in_member = 0;
        return 1;
    }
    size_t cap = t->pending_size > 0 ? (size_t)t->pending_size : 0, len = 0;
    uint8_t *buf = malloc(cap ? cap : 1);
    for (;;) {
        if (!buf) {
            s->status = WS_IMG_READ_ERROR;
            snprintf(s->reason, sizeof s->reason, "out of memory");
            return 1;
        }
        if (len == cap) {
            if (cap >= WS_MAX_IMAGE_BYTES) break;
            uint8_t *nb = realloc(buf, cap = cap ? 2 * cap : 65536);
            if (!nb) { free(buf); buf = NULL; continue; }
            buf = nb;
        }
        la_ssize_t k = archive_read_data(t->a, buf + len, cap - len);
        if (k < 0) {
            free(buf);
            set_damaged(t, "truncated tar");
            s->status = WS_IMG_READ_ERROR;
            snprintf(s->reason, sizeof s->reason, "tar member cut short (%.120s)", t->why);
            return 0;
        }
        if (k == 0) {   /* the data and its padding consumed */
            t->in_member = 0;
            break;
        }
        len += (size_t)k;
    }
    if (len == 0) {
        free(buf);
        s->status = WS_IMG_EMPTY;
        snprintf(s->reason, sizeof s->reason, "zero-byte image member");
        return 1;
    }
    s->data = buf;
    s->size = len;
    return 1;
}

/* The pending member into sample s, whose image so far came from the extension ranked *rank:
 * read when its extension ranks better (replacing the earlier one), else skipped. 0 on damage. */
static int take_member(tar_reader *t, ws_sample *s, int *rank, const char *shard) {
    int r = t->pending_rank;
    if (r >= 0 && r == *rank)   /* webdataset refuses it; its lenient handlers keep the first */
        LOG_WARN("%s: %s: a second member with the same extension; the first is kept", shard, t->pending_name);
    if (r < 0 || (*rank >= 0 && r >= *rank)) {
        if (archive_read_data_skip(t->a) != ARCHIVE_OK) return set_damaged(t, "truncated tar"), 0;
        t->in_member = 0;
        return 1;
    }
    free(s->data);
    s->data = NULL;
    s->size = 0;
    s->status = WS_IMG_OK;
    s->reason[0] = '\0';
    *rank = r;
    return read_member(t, s);
}

int tar_reader_next(tar_reader *t, ws_sample *s, const char *shard) {
    memset(s, 0, sizeof *s);
    if (t->stream && !t->stream_opened) {
        t->stream_opened = 1;
        if (archive_read_open(t->a, t, NULL, stream_cb, NULL) != ARCHIVE_OK) set_damaged(t, "not a readable tar");
    }
    int rank = -1;   /* the extension the image was taken from */
    while (!t->done || t->pending_key) {
        if (!t->pending_key && !next_member(t)) break;
        if (s->key && strcmp(s->key, t->pending_key) != 0) break;   /* next sample starts */
        if (!s->key) {
            s->key = t->pending_key;
            if (seen_insert(t, s->key))
                LOG_WARN("%s: %s: key repeats after other keys (members not adjacent); a new row",
                         shard, s->key);
        } else {
            free(t->pending_key);
        }
        t->pending_key = NULL;
        int ok = take_member(t, s, &rank, shard);
        free(t->pending_name);
        t->pending_name = NULL;
        if (!ok) break;
    }
    if (!s->key) return 0;
    if (rank < 0) {
        s->status = WS_IMG_NO_IMAGE;
        snprintf(s->reason, sizeof s->reason, "sample has no member with an image extension (%.100s)",
                 t->image_exts);
    }
    return 1;
}

int tar_reader_damaged(const tar_reader *t, const char **why) {
    if (why) *why = t->damaged ? t->why : NULL;
    return t->damaged;
}

void tar_reader_close(tar_reader *t) {
    if (!t) return;
    archive_read_free(t->a);
    if (t->fd >= 0) close(t->fd);
    free(t->pending_key);
    free(t->pending_name);
    free(t->image_exts);
    free(t->seen);
    free(t->block);
    free(t);
}
