/* Zip central-directory reader for in-memory archives (see zip.h for why it is hand-written). */
#include "loaders/zip.h"
#include "common/error.h"

#include <stdlib.h>
#include <string.h>

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_LOCATOR64 0x07064b50u
#define EOCD_LEN 22
#define LOCATOR64_LEN 20
#define EOCD64_LEN 56
#define CENTRAL_LEN 46
#define LOCAL_LEN 30
#define MAX_COMMENT 0xffff
#define ZIP64_EXTRA_ID 0x0001

static uint16_t rd16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const unsigned char *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

/* True when [off, off+n) lies inside [0, len). */
static int in_range(uint64_t off, uint64_t n, size_t len) { return off <= len && n <= len - off; }

/* Locate the end-of-central-directory record (searching backwards over a possible comment). */
static int find_eocd(const unsigned char *d, size_t len, const char *label, size_t *pos) {
    if (len < EOCD_LEN) return ws_errorf(WS_ERR_FORMAT, "%s: not a zip archive (%zu bytes, truncated?)", label, len);
    size_t lowest = len - EOCD_LEN > MAX_COMMENT ? len - EOCD_LEN - MAX_COMMENT : 0;
    for (size_t p = len - EOCD_LEN + 1; p-- > lowest;)
        if (rd32(d + p) == SIG_EOCD && p + EOCD_LEN + rd16(d + p + 20) == len) {
            *pos = p;
            return WS_OK;
        }
    return ws_errorf(WS_ERR_FORMAT, "%s: zip end-of-central-directory record not found (truncated archive?)", label);
}

/* Central-directory location and size, following the zip64 records when present. */
static int read_directory_bounds(const unsigned char *d, size_t len, const char *label, size_t eocd,
                                 uint64_t *cd_off, uint64_t *cd_size, uint64_t *count, uint64_t *cd_end_limit) {
    const unsigned char *e = d + eocd;
    if (rd16(e + 4) != 0 || rd16(e + 6) != 0)
        return ws_errorf(WS_ERR_UNSUPPORTED, "%s: multi-disk zip archives are not supported", label);
    *count = rd16(e + 10);
    *cd_size = rd32(e + 12);
    *cd_off = rd32(e + 16);
    *cd_end_limit = eocd;
    if (eocd >= LOCATOR64_LEN && rd32(d + eocd - LOCATOR64_LEN) == SIG_LOCATOR64) {
        const unsigned char *loc = d + eocd - LOCATOR64_LEN;
        uint64_t off64 = rd64(loc + 8);
        if (rd32(loc + 4) != 0 || rd32(loc + 16) > 1)
            return ws_errorf(WS_ERR_UNSUPPORTED, "%s: multi-disk zip64 archives are not supported", label);
        if (!in_range(off64, EOCD64_LEN, eocd - LOCATOR64_LEN) || rd32(d + off64) != SIG_EOCD64)
            return ws_errorf(WS_ERR_FORMAT, "%s: zip64 end-of-central-directory record at %llu is missing or "
                             "out of range", label, (unsigned long long)off64);
        const unsigned char *z = d + off64;
        if (rd32(z + 16) != 0 || rd32(z + 20) != 0)
            return ws_errorf(WS_ERR_UNSUPPORTED, "%s: multi-disk zip64 archives are not supported", label);
        *count = rd64(z + 32);
        *cd_size = rd64(z + 40);
        *cd_off = rd64(z + 48);
        *cd_end_limit = off64;
    }
    if (*cd_off > *cd_end_limit || *cd_size > *cd_end_limit - *cd_off)
        return ws_errorf(WS_ERR_FORMAT, "%s: zip central directory [%llu, +%llu) points past its end record "
                         "(truncated archive?)", label, (unsigned long long)*cd_off, (unsigned long long)*cd_size);
    if (*count > WS_ZIP_MAX_ENTRIES)
        return ws_errorf(WS_ERR_LIMIT, "%s: zip archive claims %llu entries (limit %u)", label,
                         (unsigned long long)*count, WS_ZIP_MAX_ENTRIES);
    if (*count * CENTRAL_LEN > *cd_size)
        return ws_errorf(WS_ERR_FORMAT, "%s: zip central directory of %llu bytes cannot hold %llu entries",
                         label, (unsigned long long)*cd_size, (unsigned long long)*count);
    return WS_OK;
}

/* Replace 0xffffffff sizes/offset with the values of the zip64 extra field (in its fixed order). */
static int apply_zip64_extra(const unsigned char *extra, size_t n, uint64_t *usize, uint64_t *csize,
                             uint64_t *header, const char *label, const char *name) {
    while (n >= 4) {
        uint16_t id = rd16(extra), sz = rd16(extra + 2);
        if ((size_t)sz > n - 4) break;
        if (id == ZIP64_EXTRA_ID) {
            const unsigned char *p = extra + 4;
            size_t left = sz;
            uint64_t *fields[3] = {usize, csize, header};
            for (int i = 0; i < 3; i++) {
                if (*fields[i] != 0xffffffffu) continue;
                if (left < 8)
                    return ws_errorf(WS_ERR_FORMAT, "%s: zip entry '%s': zip64 extra field too short", label, name);
                *fields[i] = rd64(p);
                p += 8;
                left -= 8;
            }
            return WS_OK;
        }
        extra += 4 + (size_t)sz;
        n -= 4 + (size_t)sz;
    }
    if (*usize == 0xffffffffu || *csize == 0xffffffffu || *header == 0xffffffffu)
        return ws_errorf(WS_ERR_FORMAT, "%s: zip entry '%s' needs a zip64 extra field and has none", label, name);
    return WS_OK;
}

static int cmp_header(const void *a, const void *b) {
    const ws_zip_entry *x = a, *y = b;
    return x->header < y->header ? -1 : x->header > y->header;
}

static int cmp_name(const void *a, const void *b) {
    const ws_zip_entry *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

/* Entries must not share bytes with each other or with the central directory, nor repeat a name. */
static int check_layout(const ws_zip *z, const char *label, uint64_t cd_off) {
    size_t n = z->num_entries;
    if (n == 0) return WS_OK;
    ws_zip_entry *sorted = malloc(n * sizeof *sorted);
    const ws_zip_entry **names = malloc(n * sizeof *names);
    int rc = WS_OK;
    if (!sorted || !names) {
        rc = ws_errorf(WS_ERR_NOMEM, "%s: out of memory checking the zip directory", label);
        goto done;
    }
    memcpy(sorted, z->entries, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cmp_header);
    for (size_t i = 0; i < n && rc == WS_OK; i++) {
        uint64_t end = sorted[i].offset + sorted[i].size;
        uint64_t next = i + 1 < n ? sorted[i + 1].header : cd_off;
        if (end > next)
            rc = ws_errorf(WS_ERR_FORMAT, "%s: zip entry '%s' [%llu, %llu) overlaps %s at %llu", label,
                           sorted[i].name, (unsigned long long)sorted[i].header, (unsigned long long)end,
                           i + 1 < n ? sorted[i + 1].name : "the central directory", (unsigned long long)next);
    }
    for (size_t i = 0; i < n; i++) names[i] = &z->entries[i];
    qsort(names, n, sizeof *names, cmp_name);
    for (size_t i = 1; i < n && rc == WS_OK; i++)
        if (!strcmp(names[i - 1]->name, names[i]->name))
            rc = ws_errorf(WS_ERR_FORMAT, "%s: zip entry '%s' appears twice", label, names[i]->name);
done:
    free(sorted);
    free(names);
    return rc;
}

/* Parse one central-directory record at *p (advanced past it) into `e`. */
static int read_entry(const unsigned char *d, size_t len, const char *label, const unsigned char **p,
                      const unsigned char *cd_end, uint64_t cd_off, ws_zip_entry *e) {
    const unsigned char *c = *p;
    if ((size_t)(cd_end - c) < CENTRAL_LEN || rd32(c) != SIG_CENTRAL)
        return ws_errorf(WS_ERR_FORMAT, "%s: zip central directory record at %llu is truncated or corrupt", label,
                         (unsigned long long)(c - d));
    uint16_t flags = rd16(c + 8), method = rd16(c + 10);
    uint64_t csize = rd32(c + 20), usize = rd32(c + 24), header = rd32(c + 42);
    size_t nlen = rd16(c + 28), xlen = rd16(c + 30), clen = rd16(c + 32);
    if ((size_t)(cd_end - c) - CENTRAL_LEN < nlen + xlen + clen)
        return ws_errorf(WS_ERR_FORMAT, "%s: zip central directory record at %llu runs past the directory", label,
                         (unsigned long long)(c - d));
    if (nlen == 0 || memchr(c + CENTRAL_LEN, 0, nlen))
        return ws_errorf(WS_ERR_FORMAT, "%s: zip entry at %llu has an empty or invalid name", label,
                         (unsigned long long)(c - d));
    e->name = malloc(nlen + 1);
    if (!e->name) return ws_errorf(WS_ERR_NOMEM, "%s: out of memory reading the zip directory", label);
    memcpy(e->name, c + CENTRAL_LEN, nlen);
    e->name[nlen] = '\0';
    *p = c + CENTRAL_LEN + nlen + xlen + clen;
    int rc = apply_zip64_extra(c + CENTRAL_LEN + nlen, xlen, &usize, &csize, &header, label, e->name);
    if (rc != WS_OK) return rc;
    if (flags & 1) return ws_errorf(WS_ERR_UNSUPPORTED, "%s: zip entry '%s' is encrypted", label, e->name);
    if (method != 0)
        return ws_errorf(WS_ERR_UNSUPPORTED, "%s: zip entry '%s' is compressed (method %u); torch.save stores "
                         "entries uncompressed: re-save the checkpoint with torch.save", label, e->name, method);
    if (csize != usize)
        return ws_errorf(WS_ERR_FORMAT, "%s: zip entry '%s' is stored but its sizes differ (%llu vs %llu)", label,
                         e->name, (unsigned long long)csize, (unsigned long long)usize);
    if (!in_range(header, LOCAL_LEN, cd_off) || rd32(d + header) != SIG_LOCAL)
        return ws_errorf(WS_ERR_FORMAT, "%s: zip entry '%s': local header at %llu is missing or past the end",
                         label, e->name, (unsigned long long)header);
    uint64_t data = header + LOCAL_LEN + rd16(d + header + 26) + rd16(d + header + 28);
    if (!in_range(data, csize, cd_off) || !in_range(data, csize, len))
        return ws_errorf(WS_ERR_FORMAT, "%s: zip entry '%s': data [%llu, +%llu) points past the end of the "
                         "entries (truncated archive?)", label, e->name, (unsigned long long)data,
                         (unsigned long long)csize);
    e->header = header;
    e->offset = data;
    e->size = csize;
    return WS_OK;
}

int zip_open_mem(const void *data, size_t len, const char *label, ws_zip *z) {
    memset(z, 0, sizeof *z);
    const unsigned char *d = data;
    size_t eocd = 0;
    uint64_t cd_off = 0, cd_size = 0, count = 0, cd_limit = 0;
    int rc = find_eocd(d, len, label, &eocd);
    if (rc == WS_OK) rc = read_directory_bounds(d, len, label, eocd, &cd_off, &cd_size, &count, &cd_limit);
    if (rc != WS_OK) return rc;
    z->data = d;
    z->len = len;
    z->entries = calloc(count ? count : 1, sizeof *z->entries);
    if (!z->entries) return ws_errorf(WS_ERR_NOMEM, "%s: out of memory reading the zip directory", label);
    const unsigned char *p = d + cd_off, *cd_end = d + cd_off + cd_size;
    for (uint64_t i = 0; i < count && rc == WS_OK; i++) {
        z->num_entries = i + 1;
        rc = read_entry(d, len, label, &p, cd_end, cd_off, &z->entries[i]);
    }
    if (rc == WS_OK) rc = check_layout(z, label, cd_off);
    if (rc != WS_OK) zip_close(z);
    return rc;
}

void zip_close(ws_zip *z) {
    for (size_t i = 0; i < z->num_entries; i++) free(z->entries[i].name);
    free(z->entries);
    memset(z, 0, sizeof *z);
}

const ws_zip_entry *zip_find(const ws_zip *z, const char *name) {
    for (size_t i = 0; i < z->num_entries; i++)
        if (!strcmp(z->entries[i].name, name)) return &z->entries[i];
    return NULL;
}
