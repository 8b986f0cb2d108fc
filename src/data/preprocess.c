/* Resize, crop and normalise one decoded image (see preprocess.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/pixel_norm.h"
#include "data/preprocess.h"
#include "data/resize_pil.h"

void preprocess_resized_size(int w, int h, int resize, int *W, int *H) {
    int shrt = w <= h ? w : h, lng = w <= h ? h : w;
    int new_long = (int)((double)resize * lng / shrt);   /* Python: int(size * long / short) */
    *W = w <= h ? resize : new_long;
    *H = w <= h ? new_long : resize;
}

void preprocess_normalize(const uint8_t *u8, int R, const float mean[3], const float std[3],
                          float *chw) {
    float lut[3][256];   /* every possible value (common/pixel_norm.h), so a lookup gives the same bits */
    ws_pixel_norm_table(mean, std, lut);
    size_t n = (size_t)R * R;
    float *o0 = chw, *o1 = chw + n, *o2 = chw + 2 * n;
    for (size_t i = 0; i < n; i++) {
        o0[i] = lut[0][u8[3 * i]];
        o1[i] = lut[1][u8[3 * i + 1]];
        o2[i] = lut[2][u8[3 * i + 2]];
    }
}

/* Where the output comes from: the resized size W x H, the crop offsets (top, left) and the
 * window [x0, x1) x [y0, y1) of the resized image inside the crop. WS_OK, or WS_ERR_ARG /
 * WS_ERR_LIMIT with a message. */
typedef struct {
    int W, H, top, left, x0, y0, x1, y1;
} crop_plan;

static int plan_crop(int w, int h, const ws_preprocess *p, crop_plan *c) {
    int R = p->crop;
    if (R <= 0 || (p->mode == WS_PREPROCESS_CROP && p->resize <= 0))
        return ws_errorf(WS_ERR_ARG, "preprocess: bad sizes (resize %d, crop %d)", p->resize, R);
    int shrt = w <= h ? w : h, lng = w <= h ? h : w;
    if (p->mode == WS_PREPROCESS_CROP && (double)p->resize * lng / shrt >= 1 << 30)
        return ws_errorf(WS_ERR_LIMIT, "preprocess: %dx%d image resized to shorter side %d is "
                         "too long", w, h, p->resize);
    if (p->mode == WS_PREPROCESS_SQUARE) { c->W = R; c->H = R; }
    else preprocess_resized_size(w, h, p->resize, &c->W, &c->H);
    /* torchvision CenterCrop: offsets int(round((size - R) / 2)), round half to even; a side
     * smaller than R is first zero-padded by (R - size) // 2 before it. */
    c->top = c->H < R ? -((R - c->H) / 2) : (int)nearbyint((c->H - R) / 2.0);
    c->left = c->W < R ? -((R - c->W) / 2) : (int)nearbyint((c->W - R) / 2.0);
    c->x0 = c->left > 0 ? c->left : 0;
    c->y0 = c->top > 0 ? c->top : 0;
    c->x1 = c->left + R < c->W ? c->left + R : c->W;
    c->y1 = c->top + R < c->H ? c->top + R : c->H;
    return WS_OK;
}

void preprocess_source_region(int w, int h, const void *ctx, ws_rect *need) {
    crop_plan c;
    *need = (ws_rect){0, 0, w, h};
    if (plan_crop(w, h, ctx, &c) < 0) return;   /* preprocess_image reports it */
    resize_pil_source_span(w, c.W, c.x0, c.x1 - c.x0, &need->x0, &need->x1);
    resize_pil_source_span(h, c.H, c.y0, c.y1 - c.y0, &need->y0, &need->y1);
}

int preprocess_image(const ws_image *img, const ws_preprocess *p, uint8_t *u8, float *chw) {
    int R = p->crop;
    crop_plan c;
    int rc = plan_crop(img->w, img->h, p, &c);
    if (rc < 0) return rc;
    ws_rect need;
    preprocess_source_region(img->w, img->h, p, &need);
    const ws_rect *v = &img->valid;
    if (need.x0 < v->x0 || need.y0 < v->y0 || need.x1 > v->x1 || need.y1 > v->y1)
        return ws_errorf(WS_ERR_ARG, "preprocess: the image was decoded for another crop");
    /* Only the part of the resized image inside the crop is computed, into the output. */
    uint8_t *own = u8 ? NULL : malloc((size_t)R * R * 3);
    uint8_t *out = u8 ? u8 : own;
    if (!out) return ws_errorf(WS_ERR_NOMEM, "preprocess: out of memory");
    if (c.x1 - c.x0 < R || c.y1 - c.y0 < R) memset(out, 0, (size_t)R * R * 3);
    rc = resize_pil_bicubic_window(img->rgb, img->w, img->h, c.W, c.H, c.x0, c.y0, c.x1 - c.x0,
                                   c.y1 - c.y0,
                                   out + ((size_t)(c.y0 - c.top) * R + (c.x0 - c.left)) * 3,
                                   (size_t)R * 3);
    if (rc >= 0 && chw) preprocess_normalize(out, R, p->mean, p->std, chw);
    free(own);
    return rc;
}
