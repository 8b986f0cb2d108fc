/* Non-blocking open of regular files (see file_open.h). */
#define _GNU_SOURCE
#include "common/file_open.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static const char *kind_name(mode_t m) {
    if (S_ISFIFO(m)) return "not a regular file (a FIFO)";
    if (S_ISDIR(m)) return "not a regular file (a directory)";
    if (S_ISSOCK(m)) return "not a regular file (a socket)";
    if (S_ISCHR(m) || S_ISBLK(m)) return "not a regular file (a device)";
    return "not a regular file";
}

const char *ws_not_regular(const char *path) {
    struct stat s;
    if (stat(path, &s) != 0) return strerror(errno);
    return S_ISREG(s.st_mode) ? NULL : kind_name(s.st_mode);
}

int ws_open_regular(const char *path, struct stat *st, const char **why) {
    struct stat s;
    /* O_NONBLOCK: opening a FIFO returns at once instead of waiting for a writer. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        *why = strerror(errno);
        return -1;
    }
    if (fstat(fd, &s) != 0) {
        *why = strerror(errno);
        close(fd);
        return -1;
    }
    if (!S_ISREG(s.st_mode)) {
        *why = kind_name(s.st_mode);
        close(fd);
        errno = EINVAL;
        return -1;
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        *why = strerror(errno);
        close(fd);
        return -1;
    }
    if (st) *st = s;
    return fd;
}
