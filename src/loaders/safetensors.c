/* safetensors files: an 8-byte little-endian header length, a JSON header
 * {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}, then the
 * raw data. The file is memory-mapped; tensors point into the mapping. Every header field is
 * validated before a tensor is added (see docs/formats.md for the messages). */
#include "loaders/checkpoint.h"
#include "common/error.h"
#include "common/file_open.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEADER_MAX ((uint64_t)100 * 1000 * 1000)  /* larger headers are refused as absurd */
#define JSON_INT_MAX 9007199254740992.0           /* 2^53: larger integers lose precision */

typedef struct {
    const char *name;
    uint64_t begin, end;
} span;

/* The safetensors dtype strings; only the float ones are read. */
static int parse_dtype(const char *file, const char *tensor, const char *s, ws_dtype *out) {
    static const char *other[] = {"BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16",
                                  "I32", "U32", "F64", "I64", "U64"};
    if (!strcmp(s, "F32")) *out = WS_DTYPE_F32;
    else if (!strcmp(s, "F16")) *out = WS_DTYPE_F16;
    else if (!strcmp(s, "BF16")) *out = WS_DTYPE_BF16;
    else {
        for (size_t i = 0; i < sizeof other / sizeof other[0]; i++)
            if (!strcmp(s, other[i]))
                return ws_errorf(WS_ERR_UNSUPPORTED,
                                 "%s: tensor '%s' has dtype %s; only F32, F16 and BF16 are read", file,
                                 tensor, s);
        return ws_errorf(WS_ERR_FORMAT, "%s: tensor '%s' has unknown dtype '%.40s'", file, tensor, s);
    }
    return WS_OK;
}

/* A JSON number that is a non-negative integer below 2^53. */
static int json_uint(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!(d >= 0) || d > JSON_INT_MAX || d != floor(d)) return 0;
    *out = (uint64_t)d;
    return 1;
}

static int span_cmp(const void *a, const void *b) {
    const span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Parse one header entry into `t` (data not yet set); `avail` is the size of the data section. */
static int parse_entry(const char *file, const cJSON *e, uint64_t avail, ws_ckpt_tensor *t, span *s) {
    const char *name = e->string;
    if (!cJSON_IsObject(e)) return ws_errorf(WS_ERR_FORMAT, "%s: tensor '%s': entry is not an object", file, name);
    const cJSON *dt = NULL, *shape = NULL, *offs = NULL, *f;
    cJSON_ArrayForEach(f, e) {
        if (!strcmp(f->string, "dtype")) dt = f;
        else if (!strcmp(f->string, "shape")) shape = f;
        else if (!strcmp(f->string, "data_offsets")) offs = f;
        else return ws_errorf(WS_ERR_FORMAT, "%s: tensor '%s': unknown field '%.40s'", file, name, f->string);
    }
    if (!cJSON_IsString(dt)) return ws_errorf(WS_ERR_FORMAT, "%s: tensor '%s': missing or non-string dtype", file, name);
    int rc = parse_dtype(file, name, dt->valuestring, &t->dtype);
    if (rc) return rc;
    if (!cJSON_IsArray(shape)) return ws_errorf(WS_ERR_FORMAT, "%s: tensor '%s': missing or non-array shape", file, name);
    int nd = cJSON_GetArraySize(shape);
    if (nd > WS_CKPT_MAX_DIMS)
        return ws_errorf(WS_ERR_UNSUPPORTED, "%s: tensor '%s' has %d dimensions (at most %d)", file, name, nd,
                         WS_CKPT_MAX_DIMS);
    t->ndim = nd;
    uint64_t numel = 1;
    int d = 0, zero = 0;
    cJSON_ArrayForEach(f, shape) {
        uint64_t n;
        if (!json_uint(f, &n))
            return ws_errorf(WS_ERR_FORMAT, "%s: tensor '%s': shape entry %d is not a non-negative integer", file,
                             name, d);
        if (n == 0) zero = 1;
        /* Bound the product by the data size so it cannot overflow. */
        else if (!zero && numel > avail / n)
            return ws_errorf(WS_ERR_FORMAT, "%s: tensor '%s': shape is larger than the file's data (%llu bytes)",
                             file, name, (unsigned long long)avail);
        else numel *= n;
        t->shape[d++] = (int64_t)n;
    }
    if (zero) numel = 0;
    int64_t stride = 1;
    for (d = nd - 1; d >= 0; d--) {
        t->stride[d] = stride;
        stride *= t->shape[d] ? t->shape[d] : 1;
    }
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 || !json_uint(offs->child, &s->begin) ||
        !json_uint(offs->child->next, &s->end))
        return ws_errorf(WS_ERR_FORMAT, "%s: tensor '%s': data_offsets must be two non-negative integers", file,
                         name);
    if (s->begin > s->end)
        return ws_errorf(WS_ERR_FORMAT, "%s: tensor '%s': data_offsets begin %llu > end %llu", file, name,
                         (unsigned long long)s->begin, (unsigned long long)s->end);
    if (s->end > avail)
        return ws_errorf(WS_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu) run past the end of the "
                         "data (%llu bytes; truncated file?)", file, name, (unsigned long long)s->begin,
                         (unsigned long long)s->end, (unsigned long long)avail);
    uint64_t bytes = numel * ws_dtype_size(t->dtype);
    if (s->end - s->begin != bytes)
        return ws_errorf(WS_ERR_FORMAT, "%s: tensor '%s': data_offsets span %llu bytes but shape x dtype needs %llu",
                         file, name, (unsigned long long)(s->end - s->begin), (unsigned long long)bytes);
    s->name = name;
    return WS_OK;
}

int ckpt_parse_safetensors(ws_ckpt *c, const char *file, const void *data, size_t len) {
    const unsigned char *p = data;
    if (len < 8) return ws_errorf(WS_ERR_FORMAT, "%s: not a safetensors file (%zu bytes, truncated)", file, len);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | p[i];
    if (hlen > HEADER_MAX)
        return ws_errorf(WS_ERR_FORMAT, "%s: safetensors header length %llu is absurd (limit %llu; not a "
                         "safetensors file?)", file, (unsigned long long)hlen, (unsigned long long)HEADER_MAX);
    if (hlen > len - 8)
        return ws_errorf(WS_ERR_FORMAT, "%s: safetensors header length %llu is larger than the file (%zu bytes; "
                         "truncated?)", file, (unsigned long long)hlen, len);
    const char *hdr = (const char *)p + 8, *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(hdr, (size_t)hlen, &end, 0);
    if (!root) return ws_errorf(WS_ERR_FORMAT, "%s: safetensors header is not valid JSON", file);
    for (const char *q = end; q && q < hdr + hlen; q++)
        if (*q != ' ' && *q != '\t' && *q != '\n' && *q != '\r' && *q != '\0') {
            cJSON_Delete(root);
            return ws_errorf(WS_ERR_FORMAT, "%s: safetensors header has trailing data after the JSON", file);
        }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return ws_errorf(WS_ERR_FORMAT, "%s: safetensors header is not a JSON object", file);
    }
    const unsigned char *base = p + 8 + hlen;
    uint64_t avail = len - 8 - hlen;
    int n = cJSON_GetArraySize(root);
    span *spans = malloc((size_t)(n ? n : 1) * sizeof *spans);
    if (!spans) {
        cJSON_Delete(root);
        return ws_errorf(WS_ERR_NOMEM, "%s: out of memory", file);
    }
    const char *stored = ckpt_add_file(c, file);
    int rc = stored ? WS_OK : ws_errorf(WS_ERR_NOMEM, "%s: out of memory", file);
    int ns = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, root) {
        if (rc) break;
        if (!strcmp(e->string, "__metadata__")) continue;
        ws_ckpt_tensor t = {.name = e->string, .file = stored};
        rc = parse_entry(file, e, avail, &t, &spans[ns]);
        if (rc) break;
        t.data = base + spans[ns].begin;
        ns++;
        rc = ckpt_add_tensor(c, &t);
    }
    if (rc == WS_OK && ns > 1) {
        qsort(spans, (size_t)ns, sizeof *spans, span_cmp);
        int last = 0;   /* the span reaching furthest so far */
        for (int i = 1; i < ns && rc == WS_OK; i++) {
            if (spans[i].begin < spans[last].end && spans[i].begin != spans[i].end)
                rc = ws_errorf(WS_ERR_FORMAT, "%s: tensors '%s' [%llu, %llu) and '%s' [%llu, %llu) overlap", file,
                               spans[last].name, (unsigned long long)spans[last].begin,
                               (unsigned long long)spans[last].end, spans[i].name,
                               (unsigned long long)spans[i].begin, (unsigned long long)spans[i].end);
            if (spans[i].end > spans[last].end) last = i;
        }
    }
    free(spans);
    cJSON_Delete(root);
    return rc;
}

int ckpt_open_safetensors(const char *path, ws_ckpt *out) {
    struct stat st;
    const char *why = NULL;
    int fd = ws_open_regular(path, &st, &why);
    if (fd < 0) return ws_errorf(WS_ERR_IO, "%s: cannot open: %s", path, why);
    size_t len = (size_t)st.st_size;
    if (len < 8) {
        close(fd);
        return ws_errorf(WS_ERR_FORMAT, "%s: not a safetensors file (%zu bytes, truncated)", path, len);
    }
    void *addr = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    int err = errno;
    close(fd);
    if (addr == MAP_FAILED) return ws_errorf(WS_ERR_IO, "%s: cannot map: %s", path, strerror(err));
    int rc = ckpt_add_mapping(out, addr, len);
    if (rc) {
        munmap(addr, len);
        return rc;
    }
    return ckpt_parse_safetensors(out, path, addr, len);
}
