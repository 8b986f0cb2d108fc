/* Sampled content fingerprint of a checkpoint's files (see ckpt_fingerprint.h). */
#include "loaders/ckpt_fingerprint.h"
#include "common/digest.h"
#include "common/error.h"
#include "common/file_open.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HEAD_BYTES ((size_t)1 << 20)
#define BLOCK_BYTES ((size_t)64 << 10)
#define BLOCKS 64
#define WHOLE_BELOW (HEAD_BYTES + (BLOCKS + 1) * BLOCK_BYTES)

/* Hash [off, off + len) of fd into d. 0 on a read error. */
static int hash_range(int fd, ws_digest *d, unsigned char *buf, size_t off, size_t len) {
    while (len > 0) {
        size_t want = len < BLOCK_BYTES ? len : BLOCK_BYTES;
        ssize_t got = pread(fd, buf, want, (off_t)off);
        if (got <= 0) return 0;
        ws_digest_update(d, buf, (size_t)got);
        off += (size_t)got, len -= (size_t)got;
    }
    return 1;
}

/* "<size> bytes, sha256 <16 hex>" of one file into out. */
static int fingerprint_file(const char *path, char *out, size_t len) {
    struct stat st;
    const char *why = NULL;
    int fd = ws_open_regular(path, &st, &why);
    if (fd < 0) return ws_errorf(WS_ERR_IO, "%s: cannot read for the weights fingerprint: %s", path, why);
    unsigned char *buf = malloc(BLOCK_BYTES);
    ws_digest *d = buf ? ws_digest_init() : NULL;
    if (!d) {
        close(fd);
        free(buf);
        return ws_errorf(WS_ERR_NOMEM, "out of memory fingerprinting %s", path);
    }
    size_t size = (size_t)st.st_size;
    int ok;
    if (size < WHOLE_BELOW) {
        ok = hash_range(fd, d, buf, 0, size);
    } else {
        ok = hash_range(fd, d, buf, 0, HEAD_BYTES);
        for (size_t k = 0; ok && k <= BLOCKS; k++)   /* block BLOCKS is the file's last */
            ok = hash_range(fd, d, buf, HEAD_BYTES + k * (size - HEAD_BYTES - BLOCK_BYTES) / BLOCKS, BLOCK_BYTES);
    }
    int err = errno;
    close(fd);
    free(buf);
    char hex[WS_DIGEST_HEX];
    ws_digest_final(d, hex);
    if (!ok) return ws_errorf(WS_ERR_IO, "%s: read failed for the weights fingerprint: %s", path, strerror(err));
    snprintf(out, len, "%zu bytes, sha256 %.16s", size, hex);
    return WS_OK;
}

/* Add `path` under its name relative to the checkpoint path. */
static int add_file(cJSON *o, const ws_ckpt *c, const char *path) {
    size_t n = strlen(c->path);
    const char *name = path, *slash = strrchr(path, '/');
    if (c->format == WS_CKPT_HF_DIR && !strncmp(path, c->path, n))
        for (name = path + n; *name == '/'; name++) {}
    else if (slash)
        name = slash + 1;
    char value[128];
    int rc = fingerprint_file(path, value, sizeof value);
    if (rc == WS_OK && !cJSON_AddStringToObject(o, name, value))
        rc = ws_errorf(WS_ERR_NOMEM, "out of memory fingerprinting %s", path);
    return rc;
}

int ckpt_fingerprint_path(const char *path, char **json) {
    ws_ckpt c;
    *json = NULL;
    int rc = ckpt_open(path, &c);
    if (rc != WS_OK) return rc;
    rc = ckpt_fingerprint(&c, json);
    ckpt_close(&c);
    return rc;
}

int ckpt_fingerprint(const ws_ckpt *c, char **json) {
    *json = NULL;
    cJSON *o = cJSON_CreateObject();
    if (!o) return ws_errorf(WS_ERR_NOMEM, "out of memory fingerprinting %s", c->path);
    int rc = WS_OK;
    if (c->format == WS_CKPT_HF_DIR) {
        static const char *const configs[] = {"config.json", "preprocessor_config.json"};
        char path[4096];
        for (size_t i = 0; i < 2 && rc == WS_OK; i++) {
            snprintf(path, sizeof path, "%s/%s", c->path, configs[i]);
            if (access(path, F_OK) == 0) rc = add_file(o, c, path);
        }
    }
    for (size_t i = 0; i < c->num_files && rc == WS_OK; i++) rc = add_file(o, c, c->files[i]);
    if (rc == WS_OK && !(*json = cJSON_PrintUnformatted(o)))
        rc = ws_errorf(WS_ERR_NOMEM, "out of memory fingerprinting %s", c->path);
    cJSON_Delete(o);
    return rc;
}
