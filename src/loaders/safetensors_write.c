/* Streaming safetensors writer (see safetensors_write.h). */
#include "loaders/safetensors_write.h"
#include "common/error.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *st_dtype(ws_dtype dt) {
    switch (dt) {
    case WS_DTYPE_F16: return "F16";
    case WS_DTYPE_BF16: return "BF16";
    default: return "F32";
    }
}

static size_t desc_bytes(const ws_st_desc *d) {
    size_t n = ws_dtype_size(d->dtype);
    for (int k = 0; k < d->ndim; k++) n *= (size_t)d->shape[k];
    return n;
}

/* The header JSON (NUL-terminated, owned by the caller). */
static char *build_header(const ws_st_desc *desc, size_t n) {
    cJSON *root = cJSON_CreateObject(), *meta = cJSON_CreateObject();
    if (!root || !meta) {
        cJSON_Delete(root);
        cJSON_Delete(meta);
        return NULL;
    }
    cJSON_AddStringToObject(meta, "format", "pt");
    cJSON_AddItemToObject(root, "__metadata__", meta);
    size_t offset = 0;
    for (size_t i = 0; i < n; i++) {
        cJSON *t = cJSON_AddObjectToObject(root, desc[i].name), *shape, *offs;
        if (!t || !cJSON_AddStringToObject(t, "dtype", st_dtype(desc[i].dtype)) ||
            !(shape = cJSON_AddArrayToObject(t, "shape")) || !(offs = cJSON_AddArrayToObject(t, "data_offsets"))) {
            cJSON_Delete(root);
            return NULL;
        }
        for (int k = 0; k < desc[i].ndim; k++) cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)desc[i].shape[k]));
        size_t bytes = desc_bytes(&desc[i]);
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)offset));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(offset + bytes)));
        offset += bytes;
    }
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

static int write_all(FILE *f, const void *p, size_t n, const char *path) {
    if (n && fwrite(p, 1, n, f) != n) return ws_errorf(WS_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    return WS_OK;
}

int safetensors_write(const char *path, const ws_st_desc *desc, size_t n, ws_st_fill fill, void *ctx) {
    char *header = build_header(desc, n);
    if (!header) return ws_errorf(WS_ERR_NOMEM, "%s: out of memory building the header", path);
    size_t hlen = strlen(header), padded = (hlen + 7) / 8 * 8;   /* data starts 8-byte aligned */
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        free(header);
        return ws_errorf(WS_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    }
    unsigned char len8[8];
    for (int k = 0; k < 8; k++) len8[k] = (unsigned char)((uint64_t)padded >> (8 * k));
    int rc = write_all(f, len8, 8, tmp);
    if (rc == WS_OK) rc = write_all(f, header, hlen, tmp);
    for (size_t k = hlen; rc == WS_OK && k < padded; k++) rc = write_all(f, " ", 1, tmp);
    free(header);
    for (size_t i = 0; rc == WS_OK && i < n; i++) {
        size_t bytes = desc_bytes(&desc[i]);
        void *buf = malloc(bytes ? bytes : 1);
        if (!buf) rc = ws_errorf(WS_ERR_NOMEM, "%s: out of memory for tensor '%s' (%zu bytes)", path, desc[i].name, bytes);
        if (rc == WS_OK) rc = fill(ctx, i, buf);
        if (rc == WS_OK) rc = write_all(f, buf, bytes, tmp);
        free(buf);
    }
    if (fclose(f) != 0 && rc == WS_OK) rc = ws_errorf(WS_ERR_IO, "%s: close failed: %s", tmp, strerror(errno));
    if (rc == WS_OK && rename(tmp, path) != 0) rc = ws_errorf(WS_ERR_IO, "%s: rename failed: %s", path, strerror(errno));
    if (rc != WS_OK) remove(tmp);
    return rc;
}
