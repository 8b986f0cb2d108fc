/* PyTorch checkpoints written by torch.save (.pth, .pt, pytorch_model.bin), memory-mapped, in
 * either of its two layouts:
 *   zip (torch >= 1.6): <folder>/data.pkl + one <folder>/data/<key> entry per storage;
 *   legacy (_use_new_zipfile_serialization=False, and files from torch < 1.6): five pickles in a
 *   row (magic number, protocol version, sys_info, the object, the sorted storage keys) and then
 *   each storage as an int64 element count and its raw bytes, in key order.
 * The object's pickle is read by the restricted unpickler (pickle.h), and every tensor found in
 * the (possibly nested) dicts becomes a ws_ckpt_tensor pointing into its stored bytes.
 *
 * Names: nested dict keys are joined with '.'. When the top-level dict holds a "teacher" dict
 * (SSL teacher and heads-only checkpoints), or a "model" / "state_dict" dict (training
 * checkpoints), only that dict is read and its name is not part of the tensor names. Non-tensor
 * values (iteration counters, learning rates, strings) are skipped; tensors of a non-float storage
 * type are skipped with a warning. */
#include "loaders/pth.h"
#include "loaders/pickle.h"
#include "loaders/zip.h"
#include "common/error.h"
#include "common/file_open.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_NAME 1024

/* A storage's bytes in a legacy file. */
typedef struct {
    const char *key;
    const unsigned char *data;
    uint64_t bytes;
} legacy_storage;

typedef struct {
    ws_ckpt *ckpt;
    const ws_zip *zip;      /* zip layout */
    const char *path;       /* stored copy, for tensor.file */
    const char *prefix;     /* archive folder holding data.pkl, e.g. "archive" */
    size_t prefix_len;
    const legacy_storage *legacy;   /* legacy layout: the storages, in key order */
    size_t num_legacy;
} pth_reader;

/* The legacy layout's first pickle: protocol 2, LONG1 of 10 bytes, torch's magic number, STOP. */
static const unsigned char LEGACY_MAGIC[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9,
                                             0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};

/* The single "<folder>/data.pkl" entry; *prefix_len is the length of "<folder>". */
static int find_pickle(const ws_zip *z, const char *path, const ws_zip_entry **pkl, size_t *prefix_len) {
    *pkl = NULL;
    for (size_t i = 0; i < z->num_entries; i++) {
        const char *name = z->entries[i].name, *slash = strchr(name, '/');
        if (!slash || strcmp(slash, "/data.pkl")) continue;
        if (*pkl) return ws_errorf(WS_ERR_FORMAT, "%s: archive holds two pickles ('%s' and '%s')", path,
                                   (*pkl)->name, name);
        *pkl = &z->entries[i];
        *prefix_len = (size_t)(slash - name);
    }
    if (!*pkl) return ws_errorf(WS_ERR_FORMAT, "%s: zip archive without a <folder>/data.pkl entry: not a "
                                "torch.save checkpoint", path);
    return WS_OK;
}

/* torch >= 2.1 records the byte order of the storages in <folder>/byteorder; only little-endian
 * data is read (older files have no record and are little-endian). */
static int check_byteorder(const ws_zip *z, const char *path, const char *prefix, size_t prefix_len) {
    char name[MAX_NAME];
    snprintf(name, sizeof name, "%.*s/byteorder", (int)prefix_len, prefix);
    const ws_zip_entry *e = zip_find(z, name);
    if (e && !(e->size == 6 && !memcmp(zip_entry_data(z, e), "little", 6)))
        return ws_errorf(WS_ERR_UNSUPPORTED, "%s: storages are not little-endian (%s)", path, name);
    return WS_OK;
}

/* The stored bytes of storage `key` (named `entry` in messages): WS_OK or an error. */
static int find_storage(const pth_reader *r, const char *name, const char *key, char *entry, size_t cap,
                        const unsigned char **data, uint64_t *bytes) {
    if (r->legacy) {
        snprintf(entry, cap, "%s", key);
        for (size_t i = 0; i < r->num_legacy; i++)
            if (!strcmp(r->legacy[i].key, key)) {
                *data = r->legacy[i].data;
                *bytes = r->legacy[i].bytes;
                return WS_OK;
            }
        return ws_errorf(WS_ERR_FORMAT, "%s: tensor '%s': storage '%s' is not among the file's storages", r->path,
                         name, key);
    }
    int n = snprintf(entry, cap, "%.*s/data/%s", (int)r->prefix_len, r->prefix, key);
    if (n < 0 || (size_t)n >= cap) return ws_errorf(WS_ERR_FORMAT, "%s: tensor '%s': storage key too long", r->path, name);
    const ws_zip_entry *e = zip_find(r->zip, entry);
    if (!e) return ws_errorf(WS_ERR_FORMAT, "%s: tensor '%s': storage entry '%s' is missing from the archive",
                             r->path, name, entry);
    *data = zip_entry_data(r->zip, e);
    *bytes = e->size;
    return WS_OK;
}

static int add_tensor(pth_reader *r, const char *name, const pk_value *t) {
    const pk_value *st = t->u.tensor.storage;
    const pk_storage_type *type = st->u.storage.type;
    char entry_name[MAX_NAME];
    const unsigned char *data = NULL;
    uint64_t bytes = 0;
    int rc = find_storage(r, name, st->u.storage.key, entry_name, sizeof entry_name, &data, &bytes);
    if (rc != WS_OK) return rc;
    if ((uint64_t)st->u.storage.numel > bytes / (uint64_t)type->elsize)
        return ws_errorf(WS_ERR_FORMAT, "%s: tensor '%s': storage '%s' claims %lld elements of %d bytes but the "
                         "file holds %llu bytes for it", r->path, name, entry_name,
                         (long long)st->u.storage.numel, type->elsize, (unsigned long long)bytes);
    if (type->dtype < 0) {
        LOG_WARN("%s: tensor '%s' holds torch.%s data; skipped (only float32/float16/bfloat16 are read)",
                 r->path, name, type->name);
        return WS_OK;
    }
    ws_ckpt_tensor ct = {.name = (char *)name, .dtype = (ws_dtype)type->dtype, .ndim = t->u.tensor.ndim,
                         .file = r->path};
    for (int d = 0; d < ct.ndim; d++) {
        ct.shape[d] = t->u.tensor.shape[d];
        ct.stride[d] = t->u.tensor.stride[d];
    }
    ct.data = data + (size_t)t->u.tensor.offset * (size_t)type->elsize;
    return ckpt_add_tensor(r->ckpt, &ct);
}

/* Add every tensor under `d` (a dict), names prefixed with name[0, len). */
static int walk(pth_reader *r, const pk_value *d, char *name, size_t len, int depth) {
    if (depth > WS_PK_MAX_DEPTH)
        return ws_errorf(WS_ERR_LIMIT, "%s: dicts nested deeper than %d levels (or a cycle) under '%.*s'", r->path,
                         WS_PK_MAX_DEPTH, (int)len, name);
    for (size_t i = 0; i < pk_dict_size(d); i++) {
        const pk_value *k = pk_dict_key(d, i), *v = pk_dict_value(d, i);
        if (v->kind != PK_TENSOR && v->kind != PK_DICT) continue;
        int n;
        if (k->kind == PK_STR) n = snprintf(name + len, MAX_NAME - len, "%s", k->u.str.s);
        else if (k->kind == PK_INT) n = snprintf(name + len, MAX_NAME - len, "%lld", (long long)k->u.i);
        else return ws_errorf(WS_ERR_FORMAT, "%s: dict under '%.*s' has a non-string key", r->path, (int)len, name);
        if (n < 0 || (size_t)n + 1 >= MAX_NAME - len || (k->kind == PK_STR && k->u.str.n != strlen(k->u.str.s)))
            return ws_errorf(WS_ERR_FORMAT, "%s: key under '%.*s' is too long or contains a NUL byte", r->path,
                             (int)len, name);
        if (v->kind == PK_DICT && v->nrefs != 1)
            return ws_errorf(WS_ERR_FORMAT, "%s: the dict under '%s' appears more than once (shared or cyclic)",
                             r->path, name);
        int rc;
        if (v->kind == PK_TENSOR) {
            rc = add_tensor(r, name, v);
        } else {
            name[len + (size_t)n] = '.';
            rc = walk(r, v, name, len + (size_t)n + 1, depth + 1);
        }
        name[len] = '\0';
        if (rc != WS_OK) return rc;
    }
    return WS_OK;
}

/* The dict holding the weights: root["teacher"], root["model"], root["state_dict"] or root. */
static const pk_value *select_weights(const pk_value *root, const char *path) {
    static const char *wrappers[] = {"teacher", "model", "state_dict"};
    for (size_t i = 0; i < sizeof wrappers / sizeof wrappers[0]; i++) {
        const pk_value *v = pk_dict_get(root, wrappers[i]);
        if (v && v->kind == PK_DICT) {
            LOG_DEBUG("%s: reading the weights under '%s'", path, wrappers[i]);
            return v;
        }
    }
    return root;
}

/* The weights dict of a parsed object pickle into `out`. */
static int add_weights(pth_reader *r, const pk_doc *doc) {
    const char *path = r->path;
    if (doc->root->nrefs) return ws_errorf(WS_ERR_FORMAT, "%s: the top-level dict contains itself", path);
    if (doc->root->kind != PK_DICT)
        return ws_errorf(WS_ERR_FORMAT, "%s: the pickle holds a %s, not a dict of tensors", path,
                         doc->root->kind == PK_TENSOR ? "single tensor" : "non-dict value");
    char name[MAX_NAME] = "";
    int rc = walk(r, select_weights(doc->root, path), name, 0, 0);
    if (rc == WS_OK && r->ckpt->num_tensors == 0)
        rc = ws_errorf(WS_ERR_FORMAT, "%s: the checkpoint holds no float tensors", path);
    return rc;
}

/* Element size of storage `key` as recorded in the object pickle, 0 when no tensor uses it. */
static int legacy_elsize(const pk_doc *doc, const char *key) {
    for (const pk_value *v = doc->values; v; v = v->next_alloc)
        if (v->kind == PK_STORAGE && !strcmp(v->u.storage.key, key)) return v->u.storage.type->elsize;
    return 0;
}

/* The legacy layout (see the top of the file). */
static int parse_legacy(ws_ckpt *out, const char *path, const unsigned char *p, size_t len) {
    const unsigned char *end = p + len;
    static const unsigned char version[] = {0x80, 0x02, 0x4d, 0xe9, 0x03, 0x2e};   /* BININT2 1001 */
    p += sizeof LEGACY_MAGIC;
    if ((size_t)(end - p) < sizeof version || memcmp(p, version, sizeof version))
        return ws_errorf(WS_ERR_UNSUPPORTED, "%s: legacy torch.save file of a protocol version other than 1001", path);
    p += sizeof version;
    char label[MAX_NAME];
    snprintf(label, sizeof label, "%s: legacy sys_info", path);
    pk_doc info = {0}, doc = {0}, keys = {0};
    size_t used;
    int rc = pk_parse_prefix(p, (size_t)(end - p), label, &info, &used);
    if (rc != WS_OK) return rc;
    const pk_value *le = pk_dict_get(info.root, "little_endian");
    if (!le || le->kind != PK_BOOL || !le->u.i)
        rc = ws_errorf(WS_ERR_UNSUPPORTED, "%s: legacy file not written little-endian", path);
    pk_free(&info);
    p += used;
    snprintf(label, sizeof label, "%s: legacy object pickle", path);
    if (rc == WS_OK && (rc = pk_parse_prefix(p, (size_t)(end - p), label, &doc, &used)) == WS_OK) p += used;
    snprintf(label, sizeof label, "%s: legacy storage keys", path);
    if (rc == WS_OK && (rc = pk_parse_prefix(p, (size_t)(end - p), label, &keys, &used)) == WS_OK) p += used;
    if (rc == WS_OK && keys.root->kind != PK_LIST)
        rc = ws_errorf(WS_ERR_FORMAT, "%s: the legacy storage key list is not a list", path);
    size_t n = rc == WS_OK ? keys.root->u.seq.n : 0;
    legacy_storage *st = calloc(n ? n : 1, sizeof *st);
    if (rc == WS_OK && !st) rc = ws_errorf(WS_ERR_NOMEM, "%s: out of memory", path);
    for (size_t i = 0; rc == WS_OK && i < n; i++) {
        const pk_value *k = keys.root->u.seq.items[i];
        int64_t numel;
        if (k->kind != PK_STR) {
            rc = ws_errorf(WS_ERR_FORMAT, "%s: legacy storage key %zu is not a string", path, i);
            break;
        }
        int elsize = legacy_elsize(&doc, k->u.str.s);
        if ((size_t)(end - p) < 8) {
            rc = ws_errorf(WS_ERR_FORMAT, "%s: file ends before storage '%s'", path, k->u.str.s);
            break;
        }
        memcpy(&numel, p, 8);
        p += 8;
        if (!elsize || numel < 0 || (uint64_t)numel > (uint64_t)(end - p) / (uint64_t)elsize) {
            rc = ws_errorf(WS_ERR_FORMAT, "%s: storage '%s' claims %lld elements%s; %zu bytes are left", path,
                           k->u.str.s, (long long)numel, elsize ? "" : " but no tensor names its type",
                           (size_t)(end - p));
            break;
        }
        st[i] = (legacy_storage){k->u.str.s, p, (uint64_t)numel * (uint64_t)elsize};
        p += st[i].bytes;
    }
    if (rc == WS_OK) {
        pth_reader r = {.ckpt = out, .path = ckpt_add_file(out, path), .legacy = st, .num_legacy = n};
        rc = r.path ? add_weights(&r, &doc) : ws_errorf(WS_ERR_NOMEM, "%s: out of memory", path);
    }
    free(st);
    pk_free(&keys);
    pk_free(&doc);
    return rc;
}

int ckpt_parse_pth(ws_ckpt *out, const char *path, const void *map, size_t len) {
    if (len >= sizeof LEGACY_MAGIC && !memcmp(map, LEGACY_MAGIC, sizeof LEGACY_MAGIC))
        return parse_legacy(out, path, map, len);
    ws_zip z;
    int rc = zip_open_mem(map, len, path, &z);
    if (rc != WS_OK) return rc;
    const ws_zip_entry *pkl;
    size_t prefix_len = 0;
    pk_doc doc = {0};
    rc = find_pickle(&z, path, &pkl, &prefix_len);
    if (rc == WS_OK) rc = check_byteorder(&z, path, pkl->name, prefix_len);
    char label[MAX_NAME];
    if (rc == WS_OK) {
        snprintf(label, sizeof label, "%s: %s", path, pkl->name);
        rc = pk_parse(zip_entry_data(&z, pkl), (size_t)pkl->size, label, &doc);
    }
    if (rc == WS_OK) {
        pth_reader r = {.ckpt = out, .zip = &z, .path = ckpt_add_file(out, path), .prefix = pkl->name,
                        .prefix_len = prefix_len};
        rc = r.path ? add_weights(&r, &doc) : ws_errorf(WS_ERR_NOMEM, "%s: out of memory", path);
    }
    pk_free(&doc);
    zip_close(&z);
    return rc;
}

int ckpt_open_pth(const char *path, ws_ckpt *out) {
    struct stat st;
    const char *why = NULL;
    int fd = ws_open_regular(path, &st, &why);
    if (fd < 0) return ws_errorf(WS_ERR_IO, "%s: cannot open: %s", path, why);
    if (st.st_size <= 0) {
        close(fd);
        return ws_errorf(WS_ERR_FORMAT, "%s: empty or unreadable file", path);
    }
    size_t len = (size_t)st.st_size;
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return ws_errorf(WS_ERR_IO, "%s: cannot map: %s", path, strerror(errno));
    int rc = ckpt_add_mapping(out, map, len);
    if (rc != WS_OK) {
        munmap(map, len);
        return rc;
    }
    return ckpt_parse_pth(out, path, map, len);
}
