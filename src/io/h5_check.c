/* HDF5 error text and library setup (see h5_check.h). */
#include "io/h5_check.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *buf;
    size_t len;
    int os_errno;   /* from a file driver's "errno = N" (the sec2 driver's read/write failures) */
} walk_state;

static herr_t walk(unsigned n, const H5E_error2_t *e, void *data) {
    walk_state *w = data;
    if (n == 0 && w->buf && e->desc && *e->desc) snprintf(w->buf, w->len, "%s (%s)", e->desc, e->func_name);
    const char *p = e->desc ? strstr(e->desc, "errno = ") : NULL;
    if (p && !w->os_errno) w->os_errno = atoi(p + 8);
    return 0;
}

const char *h5_error_text(char *buf, size_t len) {
    snprintf(buf, len, "unknown error");
    walk_state w = {buf, len, 0};
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, walk, &w);
    size_t used = strlen(buf);
    if (w.os_errno > 0 && used < len) snprintf(buf + used, len - used, ": %s", strerror(w.os_errno));
    return buf;
}

int h5_error_code(void) {
    walk_state w = {NULL, 0, 0};
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, walk, &w);
    return ws_err_from_errno(w.os_errno);
}

void h5_lib_init(void) {
    static int done = 0;
    if (done) return;
    done = 1;
    H5dont_atexit();
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}
