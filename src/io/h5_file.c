/* HDF5 files opened through checked descriptors (see h5_file.h). */
#define _GNU_SOURCE
#include "io/h5_file.h"
#include "common/error.h"
#include "common/file_open.h"
#include "io/h5_check.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define FD_NAME_LEN 32

static const char *fd_name(int fd, char buf[FD_NAME_LEN]) {
    snprintf(buf, FD_NAME_LEN, "/proc/self/fd/%d", fd);
    return buf;
}

int h5_file_create(const char *path, hid_t fcpl, hid_t fapl, hid_t *file, int *fd) {
    h5_lib_init();
    const char *why = NULL;
    int f = ws_open_no_link(path, O_RDWR | O_CREAT | O_EXCL, 0644, NULL, &why);
    if (f < 0) return ws_errorf(ws_err_from_errno(errno), "cannot create %s: %s", path, why);
    char name[FD_NAME_LEN];
    hid_t h = H5Fcreate(fd_name(f, name), H5F_ACC_TRUNC, fcpl, fapl);
    if (h < 0) {
        int rc = ws_errorf(h5_error_code(), "cannot create %s: %s%s", path, h5_error_text((char[320]){0}, 320),
                           access("/proc/self/fd", X_OK) != 0 ? " (/proc is not mounted: it is needed to open "
                                                                "files through checked descriptors)" : "");
        close(f);
        unlink(path);
        return rc;
    }
    *file = h;
    *fd = f;
    return WS_OK;
}

int h5_file_open_fd(int fd, const char *path, hid_t *file) {
    h5_lib_init();
    char name[FD_NAME_LEN];
    *file = H5Fopen(fd_name(fd, name), H5F_ACC_RDONLY, H5P_DEFAULT);
    if (*file >= 0) return WS_OK;
    if (h5_file_in_use(fd)) return ws_errorf(WS_ERR_IO, "%s: in use by another process", path);
    if (access("/proc/self/fd", X_OK) != 0) return ws_errorf(WS_ERR_IO, "%s: /proc is not mounted", path);
    return ws_errorf(WS_ERR_FORMAT, "%s: not a readable HDF5 file", path);
}

int h5_file_open(const char *path, hid_t *file) {
    const char *why = NULL;
    int fd = ws_open_no_link(path, O_RDONLY, 0, NULL, &why);
    if (fd < 0) return ws_errorf(WS_ERR_IO, "%s: %s", path, why);
    int rc = h5_file_open_fd(fd, path, file);
    close(fd);   /* HDF5 holds its own descriptor of the same file */
    return rc;
}

int h5_file_in_use(int fd) {
    if (flock(fd, LOCK_SH | LOCK_NB) != 0) return errno == EWOULDBLOCK;
    flock(fd, LOCK_UN);
    /* A read lease is refused (EAGAIN) while any descriptor of the file is open for writing;
     * other errors (another user's file, a file system without leases) tell nothing. Another
     * process opening the file for writing while the lease is held is announced with SIGIO,
     * whose default action ends the process: it is ignored (that opener waits the microseconds
     * until F_UNLCK). The program uses SIGIO for nothing else. */
    struct sigaction sa;
    if (sigaction(SIGIO, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) signal(SIGIO, SIG_IGN);
    if (fcntl(fd, F_SETLEASE, F_RDLCK) != 0) return errno == EAGAIN;
    fcntl(fd, F_SETLEASE, F_UNLCK);
    return 0;
}
