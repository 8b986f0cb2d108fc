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

/* open(2) with `flags` | O_CLOEXEC | O_NONBLOCK, then the checks of both functions below. */
static int open_checked(const char *path, int flags, mode_t mode, struct stat *st, const char **why) {
    struct stat s;
    /* O_NONBLOCK: opening a FIFO returns at once instead of waiting for a writer. */
    int fd = open(path, flags | O_CLOEXEC | O_NONBLOCK, mode);
    if (fd < 0) {
        int e = errno;
        /* O_CREAT | O_EXCL on a symbolic link fails with EEXIST (the link is never followed) */
        int link = (flags & O_NOFOLLOW) && (e == ELOOP || (e == EEXIST && lstat(path, &s) == 0 && S_ISLNK(s.st_mode)));
        *why = link ? "a symbolic link (not followed)" : strerror(e);
        errno = link ? ELOOP : e;
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
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
        *why = strerror(errno);
        close(fd);
        return -1;
    }
    if (st) *st = s;
    return fd;
}

int ws_open_regular(const char *path, struct stat *st, const char **why) {
    return open_checked(path, O_RDONLY, 0, st, why);
}

int ws_open_no_link(const char *path, int flags, mode_t mode, struct stat *st, const char **why) {
    return open_checked(path, flags | O_NOFOLLOW, mode, st, why);
}
