/* Pillow-exact bicubic resize of RGB images (see resize_pil.h for the rules reproduced).
 * Hand-written because no C library reproduces Pillow's fixed-point rounding bit for bit. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "data/resize_pil.h"
#include "data/resize_pil_kernels.h"

#define PRECISION_BITS RESIZE_PRECISION_BITS

typedef resize_coeffs coeffs;

static int scalar_only;   /* set by resize_pil_use_simd(0) */

void resize_pil_use_simd(int on) { scalar_only = !on; }

static double bicubic(double x) {
    const double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

/* The input samples [*xmin, *xmin + *n) output sample xx of `in` -> `out` reads. */
static void tap_span(int in, int out, int xx, int *xmin, int *n) {
    double scale = (double)in / out;
    double support = 2.0 * (scale < 1.0 ? 1.0 : scale);
    double center = (xx + 0.5) * scale;
    int lo = (int)(center - support + 0.5), hi = (int)(center + support + 0.5);
    *xmin = lo < 0 ? 0 : lo;
    *n = (hi > in ? in : hi) - *xmin;
}

void resize_pil_source_span(int in, int out, int first, int count, int *lo, int *hi) {
    if (in == out) {   /* the pass is skipped */
        *lo = first;
        *hi = first + count;
        return;
    }
    int n;
    tap_span(in, out, first + count - 1, hi, &n);
    *hi += n;
    tap_span(in, out, first, lo, &n);
}

/* Filter taps mapping `in` samples onto output samples [first, first + count) of `out`: double
 * weights normalised to sum 1, then rounded half away from zero to PRECISION_BITS fixed point. */
static int coeffs_make(int in, int out, int first, int count, coeffs *c) {
    double scale = (double)in / out;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 2.0 * filterscale;
    c->ksize = (int)ceil(support) * 2 + 1;
    c->bounds = malloc((size_t)count * 2 * sizeof *c->bounds);
    c->k = calloc((size_t)count * c->ksize, sizeof *c->k);
    double *w = malloc((size_t)c->ksize * sizeof *w);
    if (!c->bounds || !c->k || !w) {
        free(c->bounds); free(c->k); free(w);
        return ws_errorf(WS_ERR_NOMEM, "resize %d -> %d: out of memory", in, out);
    }
    for (int i = 0; i < count; i++) {
        int xx = first + i;
        double center = (xx + 0.5) * scale, ww = 0.0, ss = 1.0 / filterscale;
        int xmin, xmax;
        tap_span(in, out, xx, &xmin, &xmax);
        for (int x = 0; x < xmax; x++) {
            w[x] = bicubic((x + xmin - center + 0.5) * ss);
            ww += w[x];
        }
        int32_t *k = c->k + (size_t)i * c->ksize;
        for (int x = 0; x < xmax; x++) {
            double v = ww != 0.0 ? w[x] / ww : w[x];
            v *= (1 << PRECISION_BITS);
            k[x] = (int32_t)(v < 0 ? v - 0.5 : v + 0.5);
        }
        c->bounds[2 * i] = xmin;
        c->bounds[2 * i + 1] = xmax;
    }
    free(w);
    return WS_OK;
}

static void coeffs_free(coeffs *c) { free(c->bounds); free(c->k); }

static inline uint8_t clip8(int32_t v) {
    v >>= PRECISION_BITS;   /* arithmetic shift: floor, as Pillow's lookup table does */
    return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
}

/* Rows [y0, y0 + rows) of src (width w) resized horizontally into `rows` rows of dst, `dst_stride`
 * bytes apart, one pixel per coefficient set of c (cw of them). */
static void pass_horizontal(const uint8_t *src, int w, int y0, int rows, uint8_t *dst,
                            size_t dst_stride, int cw, const coeffs *c) {
    for (int y = 0; y < rows; y++) {
        const uint8_t *in = src + (size_t)(y0 + y) * w * 3;
        uint8_t *o = dst + (size_t)y * dst_stride;
        for (int xx = 0; xx < cw; xx++) {
            int xmin = c->bounds[2 * xx], n = c->bounds[2 * xx + 1];
            const int32_t *k = c->k + (size_t)xx * c->ksize;
            const uint8_t *p = in + (size_t)xmin * 3;
            int32_t s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
            for (int x = 0; x < n; x++) {
                s0 += p[3 * x] * k[x];
                s1 += p[3 * x + 1] * k[x];
                s2 += p[3 * x + 2] * k[x];
            }
            o[3 * xx] = clip8(s0);
            o[3 * xx + 1] = clip8(s1);
            o[3 * xx + 2] = clip8(s2);
        }
    }
}

/* Vertical pass: output row i of dst (`ch` rows, `dst_stride` apart) from the rows of src (`row`
 * bytes used, `src_stride` apart) that coefficient set i names; src holds source row `ybase`
 * first. Row-wise accumulation in `acc` (row int32): the same integer sums, cache friendly. */
static void pass_vertical(const uint8_t *src, size_t src_stride, size_t row, int ybase,
                          uint8_t *dst, size_t dst_stride, int ch, const coeffs *c,
                          int32_t *acc) {
    for (int yy = 0; yy < ch; yy++) {
        int ymin = c->bounds[2 * yy] - ybase, n = c->bounds[2 * yy + 1];
        const int32_t *k = c->k + (size_t)yy * c->ksize;
        for (size_t i = 0; i < row; i++) acc[i] = 1 << (PRECISION_BITS - 1);
        for (int y = 0; y < n; y++) {
            const uint8_t *in = src + (size_t)(ymin + y) * src_stride;
            int32_t ky = k[y];
            for (size_t i = 0; i < row; i++) acc[i] += in[i] * ky;
        }
        uint8_t *o = dst + (size_t)yy * dst_stride;
        for (size_t i = 0; i < row; i++) o[i] = clip8(acc[i]);
    }
}

int resize_pil_bicubic_window(const uint8_t *src, int w, int h, int W, int H, int x0, int y0,
                              int cw, int ch, uint8_t *dst, size_t dst_stride) {
    int need_h = W != w, need_v = H != h;
    size_t row = (size_t)cw * 3;
    if (!need_h && !need_v) {
        for (int y = 0; y < ch; y++)
            memcpy(dst + (size_t)y * dst_stride, src + ((size_t)(y0 + y) * w + x0) * 3, row);
        return WS_OK;
    }
    coeffs chz = {0}, cv = {0};
    int rc = WS_OK;
    int use_simd = !scalar_only && resize_have_avx2();
    if (need_h && (rc = coeffs_make(w, W, x0, cw, &chz)) < 0) return rc;
    if (need_v && (rc = coeffs_make(h, H, y0, ch, &cv)) < 0) { coeffs_free(&chz); return rc; }
    const uint8_t *src_end = src + (size_t)w * h * 3;
    if (!need_v) {
        if (!use_simd || resize_h_avx2(src, src_end, w, y0, ch, dst, dst_stride, cw, &chz) < 0)
            pass_horizontal(src, w, y0, ch, dst, dst_stride, cw, &chz);
    } else {
        /* Only the source rows the vertical taps read go through the horizontal pass. */
        int y_first = cv.bounds[0], y_last = cv.bounds[2 * ch - 2] + cv.bounds[2 * ch - 1];
        const uint8_t *vsrc = src + (size_t)x0 * 3;
        size_t vstride = (size_t)w * 3;
        int ybase = 0;
        uint8_t *tmp = need_h ? malloc((size_t)(y_last - y_first) * row) : NULL;
        int32_t *acc = use_simd ? NULL : malloc(row * sizeof *acc);
        if ((need_h && !tmp) || (!use_simd && !acc)) {
            rc = ws_errorf(WS_ERR_NOMEM, "resize %dx%d -> %dx%d: out of memory", w, h, W, H);
        } else {
            if (need_h) {
                if (!use_simd || resize_h_avx2(src, src_end, w, y_first, y_last - y_first, tmp,
                                               row, cw, &chz) < 0)
                    pass_horizontal(src, w, y_first, y_last - y_first, tmp, row, cw, &chz);
                vsrc = tmp;
                vstride = row;
                ybase = y_first;
            }
            if (use_simd) resize_v_avx2(vsrc, vstride, row, ybase, dst, dst_stride, ch, &cv);
            else pass_vertical(vsrc, vstride, row, ybase, dst, dst_stride, ch, &cv, acc);
        }
        free(tmp);
        free(acc);
    }
    coeffs_free(&chz);
    coeffs_free(&cv);
    return rc;
}

int resize_pil_bicubic(const uint8_t *src, int w, int h, uint8_t *dst, int W, int H) {
    return resize_pil_bicubic_window(src, w, h, W, H, 0, 0, W, H, dst, (size_t)W * 3);
}
