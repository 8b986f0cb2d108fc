/* ckpt_compare CKPT REF: reads every tensor of CKPT (any format, any dtype) with ckpt_read_f32,
 * whole and in windows, and compares it with the same-named tensor of REF (an f32 safetensors file
 * written by the safetensors library from the torch tensors converted with .float()). Prints max
 * abs and rel error per tensor; exits 1 on any difference (conversions to f32 are exact). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "loaders/checkpoint.h"

static int64_t rows_of(const ws_ckpt_tensor *t) { return t->ndim >= 2 ? t->shape[0] : 1; }
static int64_t cols_of(const ws_ckpt_tensor *t) {
    int64_t r = rows_of(t);
    return r ? ckpt_numel(t) / r : 0;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: ckpt_compare CKPT REF.safetensors\n");
        return 2;
    }
    ws_ckpt c, ref;
    if (ckpt_open(argv[1], &c) || ckpt_open(argv[2], &ref)) {
        fprintf(stderr, "ckpt_compare: %s\n", ws_error_message());
        return 1;
    }
    int bad = 0;
    if (c.num_tensors != ref.num_tensors) {
        printf("tensor count %zu, reference %zu\n", c.num_tensors, ref.num_tensors);
        bad = 1;
    }
    unsigned seed = 12345;
    for (size_t i = 0; i < c.num_tensors; i++) {
        const ws_ckpt_tensor *t = &c.tensors[i], *r = ckpt_find(&ref, t->name);
        if (!r || r->ndim != t->ndim || memcmp(r->shape, t->shape, sizeof(int64_t) * (size_t)t->ndim)) {
            printf("%-60s missing in the reference or shape differs\n", t->name);
            bad = 1;
            continue;
        }
        int64_t R = rows_of(t), C = cols_of(t);
        size_t n = (size_t)(R * C);
        float *a = malloc((n ? n : 1) * sizeof *a), *b = malloc((n ? n : 1) * sizeof *b);
        if (ckpt_read_f32(t, 0, R, 0, C, a) || ckpt_read_f32(r, 0, R, 0, C, b)) {
            printf("%s: %s\n", t->name, ws_error_message());
            return 1;
        }
        double max_abs = 0, max_rel = 0;
        for (size_t k = 0; k < n; k++) {
            double d = fabs((double)a[k] - b[k]);
            if (d > max_abs) max_abs = d;
            if (b[k] != 0 && d / fabs(b[k]) > max_rel) max_rel = d / fabs(b[k]);
        }
        /* a few windows must equal the same part of the whole read */
        int window_ok = 1;
        for (int w = 0; w < 4 && n; w++) {
            int64_t r0 = rand_r(&seed) % R, c0 = rand_r(&seed) % C;
            int64_t nr = 1 + rand_r(&seed) % (R - r0), nc = 1 + rand_r(&seed) % (C - c0);
            float *win = malloc((size_t)(nr * nc) * sizeof *win);
            if (ckpt_read_f32(t, r0, nr, c0, nc, win)) return 1;
            for (int64_t y = 0; y < nr; y++)
                for (int64_t x = 0; x < nc; x++)
                    if (win[y * nc + x] != a[(r0 + y) * C + c0 + x]) window_ok = 0;
            free(win);
        }
        printf("%-60s %-4s [%lld x %lld] max abs %.3g max rel %.3g%s\n", t->name, ws_dtype_name(t->dtype),
               (long long)R, (long long)C, max_abs, max_rel, window_ok ? "" : "  WINDOW MISMATCH");
        if (max_abs > 0 || !window_ok) bad = 1;
        free(a);
        free(b);
    }
    printf("%zu tensors compared: %s\n", c.num_tensors, bad ? "FAILED" : "all equal");
    ckpt_close(&c);
    ckpt_close(&ref);
    return bad;
}
