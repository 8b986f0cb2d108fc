/* Format-independent part of checkpoints (see checkpoint.h): dispatch on the path's content,
 * the tensor and mapping lists, lookup, and windowed reads converted to float. */
#include "loaders/checkpoint.h"
#include "common/error.h"
#include "common/file_open.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Elements converted per step when the source is not aligned to its element size. */
#define UNALIGNED_CHUNK 256

static int name_cmp(const void *a, const void *b) {
    const ws_ckpt_tensor *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

int ckpt_check_unique(const ws_ckpt *c) {
    if (c->num_tensors < 2) return WS_OK;
    const ws_ckpt_tensor **by_name = malloc(c->num_tensors * sizeof *by_name);
    if (!by_name) return ws_errorf(WS_ERR_NOMEM, "%s: out of memory listing tensors", c->path);
    for (size_t i = 0; i < c->num_tensors; i++) by_name[i] = &c->tensors[i];
    qsort(by_name, c->num_tensors, sizeof *by_name, name_cmp);
    int rc = WS_OK;
    for (size_t i = 1; i < c->num_tensors && rc == WS_OK; i++)
        if (!strcmp(by_name[i - 1]->name, by_name[i]->name))
            rc = ws_errorf(WS_ERR_FORMAT, "%s: tensor '%s' appears twice (in %s and %s)", c->path,
                           by_name[i]->name, by_name[i - 1]->file, by_name[i]->file);
    free(by_name);
    return rc;
}

int ckpt_open(const char *path, ws_ckpt *out) {
    memset(out, 0, sizeof *out);
    out->path = strdup(path);
    if (!out->path) return ws_errorf(WS_ERR_NOMEM, "%s: out of memory", path);
    struct stat st;
    if (stat(path, &st) != 0) {
        ckpt_close(out);
        return ws_errorf(WS_ERR_IO, "%s: cannot open checkpoint: %s", path, strerror(errno));
    }
    int rc;
    if (S_ISDIR(st.st_mode)) {
        out->format = WS_CKPT_HF_DIR;
        rc = ckpt_open_hf_dir(path, out);
    } else {
        unsigned char magic[4] = {0};
        const char *why = NULL;
        int fd = ws_open_regular(path, NULL, &why);
        if (fd < 0) {
            ckpt_close(out);
            return ws_errorf(WS_ERR_IO, "%s: cannot open checkpoint: %s", path, why);
        }
        ssize_t got = read(fd, magic, sizeof magic);
        close(fd);
        if (got == 4 && (!memcmp(magic, "PK\x03\x04", 4) || !memcmp(magic, "\x80\x02\x8a\x0a", 4))) {
            out->format = WS_CKPT_PTH;
            rc = ckpt_open_pth(path, out);
        } else {
            out->format = WS_CKPT_SAFETENSORS;
            rc = ckpt_open_safetensors(path, out);
        }
    }
    if (rc == WS_OK) rc = ckpt_check_unique(out);
    if (rc != WS_OK) ckpt_close(out);
    return rc;
}

void ckpt_close(ws_ckpt *c) {
    for (size_t i = 0; i < c->num_tensors; i++) free(c->tensors[i].name);
    for (size_t i = 0; i < c->num_mappings; i++)
        if (c->mappings[i].addr && c->mappings[i].len) munmap(c->mappings[i].addr, c->mappings[i].len);
    for (size_t i = 0; i < c->num_files; i++) free(c->files[i]);
    free(c->tensors);
    free(c->mappings);
    free(c->files);
    free(c->path);
    memset(c, 0, sizeof *c);
}

int ckpt_add_tensor(ws_ckpt *c, const ws_ckpt_tensor *t) {
    if (c->num_tensors == c->cap_tensors) {
        size_t cap = c->cap_tensors ? 2 * c->cap_tensors : 64;
        ws_ckpt_tensor *grown = realloc(c->tensors, cap * sizeof *grown);
        if (!grown) return ws_errorf(WS_ERR_NOMEM, "out of memory adding tensor '%s'", t->name);
        c->tensors = grown;
        c->cap_tensors = cap;
    }
    ws_ckpt_tensor *dst = &c->tensors[c->num_tensors];
    *dst = *t;
    dst->name = strdup(t->name);
    if (!dst->name) return ws_errorf(WS_ERR_NOMEM, "out of memory adding tensor '%s'", t->name);
    c->num_tensors++;
    return WS_OK;
}

int ckpt_add_mapping(ws_ckpt *c, void *addr, size_t len) {
    ws_mapping *grown = realloc(c->mappings, (c->num_mappings + 1) * sizeof *grown);
    if (!grown) return ws_errorf(WS_ERR_NOMEM, "out of memory adding a mapping");
    c->mappings = grown;
    c->mappings[c->num_mappings++] = (ws_mapping){addr, len};
    return WS_OK;
}

const char *ckpt_add_file(ws_ckpt *c, const char *path) {
    char **grown = realloc(c->files, (c->num_files + 1) * sizeof *grown);
    if (!grown) return NULL;
    c->files = grown;
    char *copy = strdup(path);
    if (!copy) return NULL;
    c->files[c->num_files++] = copy;
    return copy;
}

const ws_ckpt_tensor *ckpt_find(const ws_ckpt *c, const char *name) {
    for (size_t i = 0; i < c->num_tensors; i++)
        if (!strcmp(c->tensors[i].name, name)) return &c->tensors[i];
    return NULL;
}

int64_t ckpt_numel(const ws_ckpt_tensor *t) {
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= t->shape[d];
    return n;
}

/* Convert n elements at `src` (any alignment) to float. */
static void convert_run(float *dst, const unsigned char *src, ws_dtype dt, size_t n) {
    size_t es = ws_dtype_size(dt);
    if ((uintptr_t)src % es == 0) {
        ws_convert_to_f32(dst, src, dt, n);
        return;
    }
    uint32_t buf[UNALIGNED_CHUNK];
    for (size_t i = 0; i < n; i += UNALIGNED_CHUNK) {
        size_t m = n - i < UNALIGNED_CHUNK ? n - i : UNALIGNED_CHUNK;
        memcpy(buf, src + i * es, m * es);
        ws_convert_to_f32(dst + i, buf, dt, m);
    }
}

int ckpt_read_f32(const ws_ckpt_tensor *t, int64_t r0, int64_t nr, int64_t c0, int64_t nc, float *dst) {
    int64_t rows = t->ndim >= 2 ? t->shape[0] : 1;
    int64_t cols = t->ndim >= 2 ? ckpt_numel(t) / (rows ? rows : 1) : ckpt_numel(t);
    if (t->ndim >= 2 && rows == 0) cols = 0;
    if (r0 < 0 || nr < 0 || c0 < 0 || nc < 0 || r0 > rows || nr > rows - r0 || c0 > cols || nc > cols - c0)
        return ws_errorf(WS_ERR_SHAPE,
                         "%s: tensor '%s': window rows [%lld, +%lld) x cols [%lld, +%lld) is outside its "
                         "[%lld, %lld] view", t->file ? t->file : "?", t->name, (long long)r0,
                         (long long)nr, (long long)c0, (long long)nc, (long long)rows, (long long)cols);
    const unsigned char *base = t->data;
    const size_t es = ws_dtype_size(t->dtype);
    /* Inner dimensions (all but the row dimension of a >= 2-D tensor) contiguous? */
    int first = t->ndim >= 2 ? 1 : 0;
    int contiguous = 1;
    int64_t expect = 1;
    for (int d = t->ndim - 1; d >= first; d--) {
        if (t->shape[d] != 1 && t->stride[d] != expect) contiguous = 0;
        expect *= t->shape[d];
    }
    int64_t row_stride = t->ndim >= 2 ? t->stride[0] : 0;
    for (int64_t r = 0; r < nr; r++) {
        const unsigned char *row = base + (size_t)((r0 + r) * row_stride) * es;
        float *out = dst + (size_t)r * (size_t)nc;
        if (contiguous) {
            convert_run(out, row + (size_t)c0 * es, t->dtype, (size_t)nc);
            continue;
        }
        for (int64_t c = 0; c < nc; c++) {
            /* Unravel the column index over the inner dimensions (row-major). */
            int64_t rem = c0 + c, off = 0;
            for (int d = t->ndim - 1; d >= first; d--) {
                off += (rem % t->shape[d]) * t->stride[d];
                rem /= t->shape[d];
            }
            convert_run(out + c, row + (size_t)off * es, t->dtype, 1);
        }
    }
    return WS_OK;
}
