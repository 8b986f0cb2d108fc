/* Position-embedding interpolation for inputs other than the native resolution, with the rules
 * of ws_posembed_rule (webssl.h). HF and ORIGINAL reproduce torch.nn.functional.interpolate(mode=
 * "bicubic", align_corners=False, antialias=False): cubic convolution with A = -0.75, source
 * indices clamped to the border; they differ only in the scale that maps output to input
 * coordinates (g_old / g_new for HF's size=, g_old / (g_new + 0.1) for the original code's
 * scale_factor=). HF_ANTIALIAS reproduces antialias=True: Keys' cubic with A = -0.5, widened by
 * the scale when shrinking, taps outside the grid dropped and the rest renormalised.
 * Computed once per resolution on the host, then cached in backend memory. */
#include "model/model.h"
#include "common/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static float cubic(float x, float A) {
    x = fabsf(x);
    if (x < 1.0f) return ((A + 2) * x - (A + 3)) * x * x + 1;
    if (x < 2.0f) return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
    return 0.0f;
}

static int clampi(int v, int hi) { return v < 0 ? 0 : v > hi ? hi : v; }

/* Taps of output o: K source indices and weights. */
static void taps_plain(float scale, int g_old, int o, int K, int *idx, float *wt) {
    float real = scale * ((float)o + 0.5f) - 0.5f;
    int i0 = (int)floorf(real);
    float t = real - (float)i0;
    for (int k = 0; k < K; k++) {
        idx[k] = clampi(i0 - 1 + k, g_old - 1);
        wt[k] = cubic(t + 1.0f - (float)k, -0.75f);
    }
}

/* torch's _compute_indices_weights_aa for the cubic filter (support 2, scaled when shrinking). */
static void taps_antialias(float scale, int g_old, int o, int K, int *idx, float *wt) {
    float support = scale >= 1.0f ? 2.0f * scale : 2.0f, invscale = scale >= 1.0f ? 1.0f / scale : 1.0f;
    float center = scale * ((float)o + 0.5f), total = 0.0f;
    int xmin = (int)(center - support + 0.5f);
    if (xmin < 0) xmin = 0;
    int xmax = (int)(center + support + 0.5f);
    if (xmax > g_old) xmax = g_old;
    for (int k = 0; k < K; k++) {
        idx[k] = k < xmax - xmin ? xmin + k : xmin;
        wt[k] = k < xmax - xmin ? cubic(((float)(k + xmin) - center + 0.5f) * invscale, -0.5f) : 0.0f;
        total += wt[k];
    }
    for (int k = 0; k < K && total != 0.0f; k++) wt[k] /= total;
}

int posembed_interpolate(float *dst, const float *src, int g_old, int g_new, int C, ws_posembed_rule rule) {
    /* torch computes the scale in float: input / output size, or 1 / scale_factor */
    const float scale = rule == WS_POSEMBED_ORIGINAL ? (float)(1.0 / (((double)g_new + 0.1) / g_old))
                                                      : (float)g_old / (float)g_new;
    const int aa = rule == WS_POSEMBED_HF_ANTIALIAS;
    const int K = aa ? 2 * (int)ceilf(scale >= 1.0f ? 2.0f * scale : 2.0f) + 1 : 4;   /* taps per output */
    int *idx = malloc(sizeof(int) * (size_t)K * (size_t)g_new);
    float *wt = malloc(sizeof(float) * (size_t)K * (size_t)g_new);
    if (!idx || !wt) {
        free(idx);
        free(wt);
        return ws_errorf(WS_ERR_NOMEM, "out of memory interpolating position embeddings");
    }
    for (int o = 0; o < g_new; o++)
        (aa ? taps_antialias : taps_plain)(scale, g_old, o, K, idx + (size_t)K * o, wt + (size_t)K * o);
    #pragma omp parallel for collapse(2) schedule(static)
    for (int oy = 0; oy < g_new; oy++)
        for (int ox = 0; ox < g_new; ox++) {
            float *d = dst + ((size_t)oy * g_new + ox) * C;
            memset(d, 0, (size_t)C * sizeof(float));
            for (int ky = 0; ky < K; ky++) {
                /* torch interpolates along x first, then combines the rows along y */
                const float wy = wt[K * oy + ky];
                const int sy = idx[K * oy + ky];
                for (int c = 0; c < C; c++) {
                    float row = 0.0f;
                    for (int kx = 0; kx < K; kx++)
                        row += wt[K * ox + kx] * src[((size_t)sy * g_old + idx[K * ox + kx]) * C + c];
                    d[c] += wy * row;
                }
            }
        }
    free(idx);
    free(wt);
    return WS_OK;
}

const float *model_posembed(ws_model *m, int R) {
    const ws_arch *a = &m->arch;
    const int g_old = a->img_size / a->patch_size, g = R / a->patch_size, C = a->embed_dim;
    if (g == g_old) return m->w.pos;
    if (m->pos_res == R) return m->pos_cur;
    ws_backend *be = m->be;
    graph_cache_clear(m);   /* captured passes read the table that moves */
    if (m->pos_cur) be->ops->free(be, m->pos_cur);
    m->pos_res = 0;
    size_t n_old = (size_t)(1 + g_old * g_old) * C, n_new = (size_t)(1 + g * g) * C;
    m->pos_cur = be->ops->alloc(be, n_new * sizeof(float));
    float *src = malloc(n_old * sizeof(float)), *dst = malloc(n_new * sizeof(float));
    if (!m->pos_cur || !src || !dst) {
        free(src);
        free(dst);
        ws_errorf(WS_ERR_NOMEM, "out of memory interpolating position embeddings to %d x %d", g, g);
        return NULL;
    }
    be->ops->download(be, src, m->w.pos, n_old * sizeof(float));
    memcpy(dst, src, (size_t)C * sizeof(float));   /* the CLS position is kept */
    if (posembed_interpolate(dst + C, src + C, g_old, g, C, m->opt.posembed)) {
        free(src);
        free(dst);
        return NULL;
    }
    be->ops->upload(be, m->pos_cur, dst, n_new * sizeof(float));
    be->ops->sync(be);
    free(src);
    free(dst);
    m->pos_res = R;
    return m->pos_cur;
}
