/* Test tool: open a checkpoint with ckpt_open and print one line per tensor
 * ("name dtype shape=a,b strides=c,d offset=N" where N is the data's byte offset inside the
 * mapped file); with an output directory, also write each tensor as contiguous float32 to
 * DIR/<name>.f32. On failure prints the error message and exits 1. */
#include <stdio.h>
#include <stdlib.h>

#include "common/error.h"
#include "loaders/checkpoint.h"

static int dump_tensor(const ws_ckpt *c, const ws_ckpt_tensor *t, const char *dir) {
    printf("%s %s shape=", t->name, ws_dtype_name(t->dtype));
    for (int d = 0; d < t->ndim; d++) printf("%s%lld", d ? "," : "", (long long)t->shape[d]);
    printf(" strides=");
    for (int d = 0; d < t->ndim; d++) printf("%s%lld", d ? "," : "", (long long)t->stride[d]);
    printf(" offset=%lld\n", (long long)((const char *)t->data - (const char *)c->mappings[0].addr));
    if (!dir) return WS_OK;
    int64_t n = ckpt_numel(t), rows = t->ndim >= 2 ? t->shape[0] : 1, cols = rows ? n / rows : 0;
    float *buf = malloc((size_t)(n ? n : 1) * sizeof *buf);
    if (!buf) return ws_errorf(WS_ERR_NOMEM, "out of memory");
    int rc = ckpt_read_f32(t, 0, rows, 0, cols, buf);
    if (rc == WS_OK) {
        char path[2048];
        snprintf(path, sizeof path, "%s/%s.f32", dir, t->name);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(buf, sizeof *buf, (size_t)n, f) != (size_t)n) rc = ws_errorf(WS_ERR_IO, "%s: write failed", path);
        if (f) fclose(f);
    }
    free(buf);
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: pth_dump CHECKPOINT [OUTDIR]\n");
        return 2;
    }
    ws_ckpt c;
    int rc = ckpt_open(argv[1], &c);
    if (rc != WS_OK) {
        fprintf(stderr, "error: %s\n", ws_error_message());
        return 1;
    }
    for (size_t i = 0; rc == WS_OK && i < c.num_tensors; i++) rc = dump_tensor(&c, &c.tensors[i], argc > 2 ? argv[2] : NULL);
    if (rc != WS_OK) fprintf(stderr, "error: %s\n", ws_error_message());
    ckpt_close(&c);
    return rc == WS_OK ? 0 : 1;
}
