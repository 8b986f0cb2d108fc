/* Pillow-exact bicubic resize of RGB images (see resize_pil.h for the rules reproduced).
 * Hand-written because no C library reproduces Pillow's fixed-point rounding bit for bit. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "data/resize_pil.h"

#define PRECISION_BITS (32 - 8 - 2)

typedef struct {
    int ksize;      /* coefficients per output sample */
    int *bounds;    /* [out, 2]: first input index, number of inputs */
    int32_t *k;     /* [out, ksize] fixed-point coefficients */
} coeffs;

static double bicubic(double x) {
    const double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

/* Filter taps mapping `in` samples onto `out` samples: double weights normalised to sum 1, then
 * rounded half away from zero to PRECISION_BITS fixed point. */
static int coeffs_make(int in, int out, coeffs *c) {
    double scale = (double)in / out;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 2.0 * filterscale;
    c->ksize = (int)ceil(support) * 2 + 1;
    c->bounds = malloc((size_t)out * 2 * sizeof *c->bounds);
    c->k = calloc((size_t)out * c->ksize, sizeof *c->k);
    double *w = malloc((size_t)c->ksize * sizeof *w);
    if (!c->bounds || !c->k || !w) {
        free(c->bounds); free(c->k); free(w);
        return ws_errorf(WS_ERR_NOMEM, "resize %d -> %d: out of memory", in, out);
    }
    for (int xx = 0; xx < out; xx++) {
        double center = (xx + 0.5) * scale, ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5), xmax = (int)(center + support + 0.5);
        if (xmin < 0) xmin = 0;
        if (xmax > in) xmax = in;
        xmax -= xmin;
        for (int x = 0; x < xmax; x++) {
            w[x] = bicubic((x + xmin - center + 0.5) * ss);
            ww += w[x];
        }
        int32_t *k = c->k + (size_t)xx * c->ksize;
        for (int x = 0; x < xmax; x++) {
            double v = ww != 0.0 ? w[x] / ww : w[x];
            v *= (1 << PRECISION_BITS);
            k[x] = (int32_t)(v < 0 ? v - 0.5 : v + 0.5);
        }
        c->bounds[2 * xx] = xmin;
        c->bounds[2 * xx + 1] = xmax;
    }
    free(w);
    return WS_OK;
}

static void coeffs_free(coeffs *c) { free(c->bounds); free(c->k); }

static inline uint8_t clip8(int32_t v) {
    v >>= PRECISION_BITS;   /* arithmetic shift: floor, as Pillow's lookup table does */
    return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
}

/* Rows [y0, y0 + rows) of src (width w) resized horizontally into dst (width W). */
static void pass_horizontal(const uint8_t *src, int w, int y0, int rows, uint8_t *dst, int W,
                            const coeffs *c) {
    for (int y = 0; y < rows; y++) {
        const uint8_t *in = src + (size_t)(y0 + y) * w * 3;
        uint8_t *o = dst + (size_t)y * W * 3;
        for (int xx = 0; xx < W; xx++) {
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

/* src (width W) resized vertically into dst (H rows); bounds are relative to src row y0. */
static void pass_vertical(const uint8_t *src, int W, int y0, uint8_t *dst, int H,
                          const coeffs *c) {
    size_t row = (size_t)W * 3;
    int32_t *acc = malloc(row * sizeof *acc);
    for (int yy = 0; yy < H; yy++) {
        int ymin = c->bounds[2 * yy] - y0, n = c->bounds[2 * yy + 1];
        const int32_t *k = c->k + (size_t)yy * c->ksize;
        if (acc) {   /* row-wise accumulation: same integer sums, cache friendly */
            for (size_t i = 0; i < row; i++) acc[i] = 1 << (PRECISION_BITS - 1);
            for (int y = 0; y < n; y++) {
                const uint8_t *in = src + (size_t)(ymin + y) * row;
                int32_t ky = k[y];
                for (size_t i = 0; i < row; i++) acc[i] += in[i] * ky;
            }
            uint8_t *o = dst + (size_t)yy * row;
            for (size_t i = 0; i < row; i++) o[i] = clip8(acc[i]);
        } else {
            for (size_t i = 0; i < row; i++) {
                int32_t s = 1 << (PRECISION_BITS - 1);
                for (int y = 0; y < n; y++) s += src[(size_t)(ymin + y) * row + i] * k[y];
                dst[(size_t)yy * row + i] = clip8(s);
            }
        }
    }
    free(acc);
}

int resize_pil_bicubic(const uint8_t *src, int w, int h, uint8_t *dst, int W, int H) {
    int need_h = W != w, need_v = H != h;
    if (!need_h && !need_v) {
        memcpy(dst, src, (size_t)w * h * 3);
        return WS_OK;
    }
    coeffs ch = {0}, cv = {0};
    int rc = WS_OK;
    if (need_h && (rc = coeffs_make(w, W, &ch)) < 0) return rc;
    if (need_v && (rc = coeffs_make(h, H, &cv)) < 0) { coeffs_free(&ch); return rc; }
    if (need_h && !need_v) {
        pass_horizontal(src, w, 0, h, dst, W, &ch);
    } else if (!need_h) {
        pass_vertical(src, w, 0, dst, H, &cv);
    } else {
        /* Only the rows the vertical pass reads go through the horizontal pass. */
        int y_first = cv.bounds[0], y_last = cv.bounds[2 * H - 2] + cv.bounds[2 * H - 1];
        uint8_t *tmp = malloc((size_t)(y_last - y_first) * W * 3);
        if (!tmp) {
            rc = ws_errorf(WS_ERR_NOMEM, "resize %dx%d -> %dx%d: out of memory", w, h, W, H);
        } else {
            pass_horizontal(src, w, y_first, y_last - y_first, tmp, W, &ch);
            pass_vertical(tmp, W, y_first, dst, H, &cv);
            free(tmp);
        }
    }
    coeffs_free(&ch);
    coeffs_free(&cv);
    return rc;
}
