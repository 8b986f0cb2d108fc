/* WebDataset member names: key and extension, and the image extension list (see wds_name.h).
 * Hand-written rather than a regex so the tar reader splits every member without allocating; the
 * test compares it with the webdataset package on the same tars. */
#include "data/wds_name.h"

#include <string.h>
#include <strings.h>

#include "common/error.h"

int wds_split_name(const char *path, size_t *key_len, const char **ext) {
    if (!strncmp(path, "__", 2)) {   /* webdataset's skip_meta: __[^/]*__($|/) */
        const char *end = strchr(path, '/');
        size_t n = end ? (size_t)(end - path) : strlen(path);
        if (n >= 4 && !strncmp(path + n - 2, "__", 2)) return 0;
    }
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    const char *dot = strchr(base, '.');
    if (!dot) return 0;
    if (dot > base) {                /* the usual case: key = path up to the base name's first dot */
        *key_len = (size_t)(dot - path);
        *ext = dot + 1;
        return 1;
    }
    /* The base name starts with a dot: the regex's [^.]+ then spans the last slash, so the key is
     * the path up to and including it, provided nothing between the previous slash (or the
     * start) and the base name holds a dot. */
    if (!slash) return 0;
    const char *from = slash;
    while (from > path && from[-1] != '/') from--;
    if (memchr(from, '.', (size_t)(base - from))) return 0;
    *key_len = (size_t)(base - path);
    *ext = base + 1;
    return 1;
}

int wds_ext_rank(const char *list, const char *ext) {
    size_t n = strlen(ext);
    int rank = 0;
    for (const char *p = list; *p; rank++) {
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && !strncasecmp(p, ext, n)) return rank;
        if (!end) break;
        p = end + 1;
    }
    return -1;
}

int wds_ext_list_check(const char *list) {
    size_t n = strlen(list);
    int bad = n == 0 || n > 255 || list[0] == ';' || list[n - 1] == ';' || strstr(list, ";;") ||
              strpbrk(list, "/ \t");
    if (bad)
        return ws_errorf(WS_ERR_ARG, "--image-ext '%s': expected extensions separated by ';' (e.g. %s), "
                         "without '/', spaces or empty items", list, WDS_IMAGE_EXTS_DEFAULT);
    return WS_OK;
}
