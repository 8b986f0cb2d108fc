/* Position-embedding interpolation for inputs other than the native resolution, with the two
 * rules of ws_posembed_rule (webssl.h). Both reproduce torch.nn.functional.interpolate(mode=
 * "bicubic", align_corners=False, antialias=False): cubic convolution with A = -0.75, source
 * indices clamped to the border; they differ only in the scale that maps output to input
 * coordinates (g_old / g_new for HF's size=, g_old / (g_new + 0.1) for the original code's
 * scale_factor=). Computed once per resolution on the host, then cached in backend memory. */
#include "model/model.h"
#include "common/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void cubic_weights(float t, float w[4]) {
    const float A = -0.75f;
    float x = t + 1.0f;
    w[0] = ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
    x = t;
    w[1] = ((A + 2) * x - (A + 3)) * x * x + 1;
    x = 1.0f - t;
    w[2] = ((A + 2) * x - (A + 3)) * x * x + 1;
    x = 2.0f - t;
    w[3] = ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
}

static int clampi(int v, int hi) { return v < 0 ? 0 : v > hi ? hi : v; }

int posembed_interpolate(float *dst, const float *src, int g_old, int g_new, int C, ws_posembed_rule rule) {
    /* torch computes the scale in float: input / output size, or 1 / scale_factor */
    const float scale = rule == WS_POSEMBED_ORIGINAL ? (float)(1.0 / (((double)g_new + 0.1) / g_old))
                                                      : (float)g_old / (float)g_new;
    int *idx = malloc(sizeof(int) * 4 * (size_t)g_new);
    float *wt = malloc(sizeof(float) * 4 * (size_t)g_new);
    if (!idx || !wt) {
        free(idx);
        free(wt);
        return ws_errorf(WS_ERR_NOMEM, "out of memory interpolating position embeddings");
    }
    for (int o = 0; o < g_new; o++) {
        float real = scale * ((float)o + 0.5f) - 0.5f;
        int i0 = (int)floorf(real);
        cubic_weights(real - (float)i0, wt + 4 * o);
        for (int k = 0; k < 4; k++) idx[4 * o + k] = clampi(i0 - 1 + k, g_old - 1);
    }
    #pragma omp parallel for collapse(2) schedule(static)
    for (int oy = 0; oy < g_new; oy++)
        for (int ox = 0; ox < g_new; ox++) {
            float *d = dst + ((size_t)oy * g_new + ox) * C;
            memset(d, 0, (size_t)C * sizeof(float));
            for (int ky = 0; ky < 4; ky++) {
                /* torch interpolates along x first, then combines the rows along y */
                const float wy = wt[4 * oy + ky];
                const int sy = idx[4 * oy + ky];
                for (int c = 0; c < C; c++) {
                    float row = 0.0f;
                    for (int kx = 0; kx < 4; kx++)
                        row += wt[4 * ox + kx] * src[((size_t)sy * g_old + idx[4 * ox + kx]) * C + c];
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
