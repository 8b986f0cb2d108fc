/* Test helper, loaded with LD_PRELOAD: open(2) of a path containing "FAILS_EACCES" or "FAILS_EIO"
 * fails with that errno, as a file with the wrong permissions or on a failing disk or network
 * file system would; every other open goes to the C library. A run without the preload is the
 * same files healed. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/types.h>

/* The errno the path is made to fail with, or 0. */
static int planted(const char *path) {
    return strstr(path, "FAILS_EACCES") ? EACCES : strstr(path, "FAILS_EIO") ? EIO : 0;
}

static int forward(const char *name, const char *path, int flags, mode_t mode) {
    int err = planted(path);
    if (err) {
        errno = err;
        return -1;
    }
    int (*real)(const char *, int, ...) = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, name);
    return real(path, flags, mode);
}

static mode_t mode_arg(int flags, va_list ap) {
    return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...) {
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    return forward("open", path, flags, mode);
}

int open64(const char *path, int flags, ...) {
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    return forward("open64", path, flags, mode);
}
