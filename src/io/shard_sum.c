/* Whole-file checksum of a shard file in its HDF5 user block (see shard_sum.h). */
#include "io/shard_sum.h"
#include "common/digest.h"
#include "common/error.h"
#include "common/file_open.h"
#include "io/h5_file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "webssl-dist shard checksum 1\n"
#define READ_CHUNK (256u << 10)   /* one pread; the file is hashed as it is read */

/* SHA-256 of bytes [SHARD_SUM_BLOCK, EOF) of fd into hex; *size receives the file size. 0, or -1
 * with errno (a read error). */
static int digest_body(int fd, char hex[WS_DIGEST_HEX], uint64_t *size) {
    unsigned char *buf = malloc(READ_CHUNK);
    ws_digest *d = ws_digest_init();
    if (!buf || !d) {
        free(buf);
        if (d) ws_digest_final(d, hex);
        errno = ENOMEM;
        return -1;
    }
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    off_t at = SHARD_SUM_BLOCK;
    ssize_t n;
    while ((n = pread(fd, buf, READ_CHUNK, at)) > 0) {
        ws_digest_update(d, buf, (size_t)n);
        at += n;
    }
    int e = errno;
    ws_digest_final(d, hex);
    free(buf);
    *size = (uint64_t)at;
    errno = e;
    return n < 0 ? -1 : 0;
}

/* The block for a body of digest `hex` and a file of `size` bytes. */
static void make_block(char block[SHARD_SUM_BLOCK], const char *hex, uint64_t size) {
    memset(block, 0, SHARD_SUM_BLOCK);
    snprintf(block, SHARD_SUM_BLOCK, MAGIC "sha256 %s\nsize %" PRIu64 "\n", hex, size);
}

int shard_sum_seal(int fd, const char *path) {
    char hex[WS_DIGEST_HEX], block[SHARD_SUM_BLOCK];
    uint64_t size = 0;
    if (digest_body(fd, hex, &size) != 0)
        return ws_errorf(WS_ERR_IO, "checksum of %s: %s", path, strerror(errno));
    make_block(block, hex, size);
    if (pwrite(fd, block, sizeof block, 0) != (ssize_t)sizeof block || fsync(fd) != 0)
        return ws_errorf(WS_ERR_IO, "writing the checksum of %s: %s", path, errno ? strerror(errno) : "short write");
    return WS_OK;
}

/* Parse the block: 1 with the digest and size when every one of its bytes is as make_block
 * writes them, else 0. */
static int parse_block(const char *block, char hex[WS_DIGEST_HEX], uint64_t *size) {
    unsigned long long sz = 0;
    char again[SHARD_SUM_BLOCK];
    if (sscanf(block + sizeof MAGIC - 1, "sha256 %64[0-9a-f] size %20llu", hex, &sz) != 2) return 0;
    make_block(again, hex, sz);
    *size = sz;
    return memcmp(again, block, SHARD_SUM_BLOCK) == 0;
}

static shard_state verify_fd(int fd, const struct stat *st, char *why, size_t len) {
    char block[SHARD_SUM_BLOCK + 1], want[WS_DIGEST_HEX], got[WS_DIGEST_HEX];
    uint64_t size = 0, read_size = 0;
    ssize_t n = pread(fd, block, SHARD_SUM_BLOCK, 0);
    if (n < 0) {
        snprintf(why, len, "cannot read: %s", strerror(errno));
        return SHARD_UNREADABLE;
    }
    block[n] = '\0';
    int magic = n >= (ssize_t)sizeof MAGIC - 1 && !memcmp(block, MAGIC, sizeof MAGIC - 1);
    if (magic && n < SHARD_SUM_BLOCK) {
        snprintf(why, len, "truncated: %zd bytes", n);
        return SHARD_CORRUPT;
    }
    if (!magic || !parse_block(block, want, &size)) {
        snprintf(why, len, "%s", magic ? "its checksum block is damaged"
                                       : "no checksum block (not a shard file of this version, or its first bytes overwritten)");
        return magic ? SHARD_CORRUPT : SHARD_NO_SUM;
    }
    if ((uint64_t)st->st_size != size) {
        snprintf(why, len, "%s: %lld bytes, %" PRIu64 " written", (uint64_t)st->st_size < size ? "truncated" : "extended",
                 (long long)st->st_size, size);
        return SHARD_CORRUPT;
    }
    if (digest_body(fd, got, &read_size) != 0) {
        snprintf(why, len, "cannot read: %s", strerror(errno));
        return SHARD_UNREADABLE;
    }
    if (read_size != size || strcmp(got, want) != 0) {
        snprintf(why, len, "checksum mismatch: its bytes changed since it was written");
        return SHARD_CORRUPT;
    }
    return SHARD_OK;
}

shard_state shard_sum_check(const char *path, char *why, size_t len) {
    struct stat st;
    const char *reason = NULL;
    why[0] = '\0';
    int fd = ws_open_no_link(path, O_RDONLY, 0, &st, &reason);
    if (fd < 0) {
        snprintf(why, len, "%s", reason);
        return errno == ENOENT ? SHARD_ABSENT : errno == ELOOP ? SHARD_LINK : errno == EINVAL ? SHARD_IRREGULAR
                                                                                            : SHARD_UNREADABLE;
    }
    shard_state s;
    if (h5_file_in_use(fd)) {
        snprintf(why, len, "in use: another process has it open for writing");
        s = SHARD_IN_USE;
    } else {
        s = verify_fd(fd, &st, why, len);
    }
    close(fd);
    return s;
}

const char *shard_state_name(shard_state s) {
    static const char *const names[] = {"ok", "absent", "symbolic link", "not a regular file", "in use",
                                        "unreadable", "no checksum", "corrupt"};
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "?";
}
