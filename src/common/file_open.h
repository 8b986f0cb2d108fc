/* Opening files that must be regular files without ever blocking: open(2) of a FIFO with no
 * writer waits forever, and a device or socket is never an image, tar, list or checkpoint. The
 * files of an output directory are opened without following a symbolic link (a shared directory
 * may hold one planted by someone else, pointing at a file of the user's). */
#ifndef WEBSSL_COMMON_FILE_OPEN_H
#define WEBSSL_COMMON_FILE_OPEN_H

#include <sys/stat.h>

/* Open `path` read-only (O_CLOEXEC), refusing anything but a regular file (symlinks followed).
 * Returns the descriptor (blocking mode) and fills *st when not NULL; or -1 with *why set to a
 * static reason ("No such file or directory", "not a regular file (a FIFO)"...), errno kept. */
int ws_open_regular(const char *path, struct stat *st, const char **why);

/* Open `path`, a file this program keeps in its output directory, with open(2) `flags` (O_RDONLY,
 * O_RDWR, O_WRONLY | O_CREAT | O_EXCL for a new file...; O_NOFOLLOW, O_NONBLOCK and O_CLOEXEC are
 * added) and `mode` for a new file, refusing anything but a regular file: a symbolic link in the
 * last component is never followed, whatever `flags` say. Returns the descriptor (blocking mode)
 * and fills *st when not NULL; or -1 with *why set to a static reason ("a symbolic link (not
 * followed)", "File exists", "not a regular file (a FIFO)"...), errno kept (ELOOP for a link). */
int ws_open_no_link(const char *path, int flags, mode_t mode, struct stat *st, const char **why);

#endif
