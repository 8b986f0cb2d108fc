/* Test helper, loaded with LD_PRELOAD: open(2) of a path containing "BLOCKS_FOREVER" never
 * returns (signals are handled and the wait goes on), as an open on a hung network file system
 * would. Every other open goes to the C library. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

int open(const char *path, int flags, ...) {
    mode_t mode = 0;
    if (flags & O_CREAT) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    if (strstr(path, "BLOCKS_FOREVER"))
        for (;;) pause();
    int (*real_open)(const char *, int, ...) = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
    return real_open(path, flags, mode);
}
