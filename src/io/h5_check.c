/* HDF5 error text and library setup (see h5_check.h). */
#include "io/h5_check.h"

#include <hdf5.h>
#include <stdio.h>

static herr_t api_level(unsigned n, const H5E_error2_t *e, void *data) {
    char **buf = data;
    if (n == 0 && e->desc && *e->desc) snprintf(buf[0], (size_t)(buf[1] - buf[0]), "%s (%s)", e->desc, e->func_name);
    return 0;
}

const char *h5_error_text(char *buf, size_t len) {
    snprintf(buf, len, "unknown error");
    char *range[2] = {buf, buf + len};
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, api_level, range);
    return buf;
}

void h5_lib_init(void) {
    static int done = 0;
    if (done) return;
    done = 1;
    H5dont_atexit();
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}
