/* Opening files that must be regular files without ever blocking: open(2) of a FIFO with no
 * writer waits forever, and a device or socket is never an image, tar, list or checkpoint. */
#ifndef WEBSSL_COMMON_FILE_OPEN_H
#define WEBSSL_COMMON_FILE_OPEN_H

#include <sys/stat.h>

/* Open `path` read-only (O_CLOEXEC), refusing anything but a regular file (symlinks followed).
 * Returns the descriptor (blocking mode) and fills *st when not NULL; or -1 with *why set to a
 * static reason ("No such file or directory", "not a regular file (a FIFO)"...), errno kept. */
int ws_open_regular(const char *path, struct stat *st, const char **why);
/* NULL when `path` is a regular file (symlinks followed), else why not ("not a regular file (a
 * FIFO)", "No such file or directory"...): for callers whose library opens the file itself
 * (HDF5), checked just before. */
const char *ws_not_regular(const char *path);

#endif
