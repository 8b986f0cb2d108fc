/* Packing a shard list into bytes and back (see shard_list_pack.h). Layout: a magic line, the
 * shard count (uint64), then per shard: kind, from_dir (one byte each), nfiles (uint64), name,
 * path, display (NUL-terminated), then nfiles pairs file, key (NUL-terminated; keys present
 * only when files are). Hand-written: a few fixed fields and strings, no library needed. */
#include "data/shard_list_pack.h"
#include "common/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char magic[] = "webssl-shards 1";

typedef struct {
    char *p;
    size_t len, cap;
    int failed;
} packer;

static void put(packer *w, const void *v, size_t n) {
    if (w->failed) return;
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap < w->len + n) cap *= 2;
        char *p = realloc(w->p, cap);
        if (!p) { w->failed = 1; return; }
        w->p = p, w->cap = cap;
    }
    memcpy(w->p + w->len, v, n);
    w->len += n;
}

static void put_str(packer *w, const char *s) { put(w, s ? s : "", strlen(s ? s : "") + 1); }

int shard_list_pack(const ws_shard_list *l, char **buf, size_t *len) {
    packer w = {0};
    uint64_t count = l->count;
    put(&w, magic, sizeof magic);
    put(&w, &count, sizeof count);
    for (size_t i = 0; i < l->count; i++) {
        const ws_shard *s = &l->shards[i];
        uint8_t kind = (uint8_t)s->kind, from_dir = (uint8_t)s->from_dir, has_keys = s->keys != NULL;
        uint64_t nfiles = s->files ? s->nfiles : 0;
        put(&w, &kind, 1), put(&w, &from_dir, 1), put(&w, &has_keys, 1), put(&w, &nfiles, sizeof nfiles);
        put_str(&w, s->name), put_str(&w, s->path), put_str(&w, s->display);
        for (size_t k = 0; k < nfiles; k++) {
            put_str(&w, s->files[k]);
            if (has_keys) put_str(&w, s->keys[k]);
        }
    }
    if (w.failed) {
        free(w.p);
        return ws_errorf(WS_ERR_NOMEM, "out of memory packing %zu shards", l->count);
    }
    *buf = w.p, *len = w.len;
    return WS_OK;
}

typedef struct {
    const char *p, *end;
    int bad;
} reader;

static void get(reader *r, void *v, size_t n) {
    if (r->bad || (size_t)(r->end - r->p) < n) { r->bad = 1; memset(v, 0, n); return; }
    memcpy(v, r->p, n);
    r->p += n;
}

/* A copy of the next string, or NULL (r->bad set when it is cut short or memory runs out). */
static char *get_str(reader *r) {
    const char *z = r->bad ? NULL : memchr(r->p, 0, (size_t)(r->end - r->p));
    if (!z) { r->bad = 1; return NULL; }
    char *s = strdup(r->p);
    if (!s) r->bad = 1;
    r->p = z + 1;
    return s;
}

int shard_list_unpack(const char *buf, size_t len, ws_shard_list *out) {
    memset(out, 0, sizeof *out);
    reader r = {buf, buf + len, 0};
    char m[sizeof magic];
    uint64_t count = 0;
    get(&r, m, sizeof m);
    get(&r, &count, sizeof count);
    if (r.bad || memcmp(m, magic, sizeof magic) || count > len)   /* each shard takes bytes */
        return ws_errorf(WS_ERR_FORMAT, "shard list: not a packed list (%zu bytes)", len);
    out->shards = calloc(count ? count : 1, sizeof *out->shards);
    if (!out->shards) return ws_errorf(WS_ERR_NOMEM, "out of memory for %llu shards", (unsigned long long)count);
    for (uint64_t i = 0; i < count && !r.bad; i++) {
        ws_shard *s = &out->shards[i];
        uint8_t kind = 0, from_dir = 0, has_keys = 0;
        uint64_t nfiles = 0;
        get(&r, &kind, 1), get(&r, &from_dir, 1), get(&r, &has_keys, 1), get(&r, &nfiles, sizeof nfiles);
        out->count = i + 1;
        s->kind = (ws_shard_kind)kind, s->from_dir = from_dir;
        s->name = get_str(&r), s->path = get_str(&r), s->display = get_str(&r);
        if (r.bad || nfiles == 0) continue;
        if (nfiles > (uint64_t)(r.end - r.p)) { r.bad = 1; break; }
        s->files = calloc(nfiles, sizeof *s->files);
        if (has_keys) s->keys = calloc(nfiles, sizeof *s->keys);
        if (!s->files || (has_keys && !s->keys)) { r.bad = 1; break; }
        s->nfiles = nfiles;
        for (uint64_t k = 0; k < nfiles && !r.bad; k++) {
            s->files[k] = get_str(&r);
            if (has_keys) s->keys[k] = get_str(&r);
        }
    }
    if (r.bad || r.p != r.end) {
        shard_list_free(out);
        return ws_errorf(WS_ERR_FORMAT, "shard list: cut short or damaged (%zu bytes)", len);
    }
    return WS_OK;
}
