/* Resize, crop and normalise one decoded image (see preprocess.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
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
    /* A table per channel holds every possible value, each computed with the float32 operations
     * of ToTensor + Normalize in their order, so a lookup gives the same bits. */
    float lut[3][256];
    for (int c = 0; c < 3; c++)
        for (int v = 0; v < 256; v++) lut[c][v] = ((float)v / 255.0f - mean[c]) / std[c];
    size_t n = (size_t)R * R;
    float *o0 = chw, *o1 = chw + n, *o2 = chw + 2 * n;
    for (size_t i = 0; i < n; i++) {
        o0[i] = lut[0][u8[3 * i]];
        o1[i] = lut[1][u8[3 * i + 1]];
        o2[i] = lut[2][u8[3 * i + 2]];
    }
}

int preprocess_image(const ws_image *img, const ws_preprocess *p, uint8_t *u8, float *chw) {
    int R = p->crop, W, H;
    if (R <= 0 || (p->mode == WS_PREPROCESS_CROP && p->resize <= 0))
        return ws_errorf(WS_ERR_ARG, "preprocess: bad sizes (resize %d, crop %d)", p->resize, R);
    int shrt = img->w <= img->h ? img->w : img->h, lng = img->w <= img->h ? img->h : img->w;
    if (p->mode == WS_PREPROCESS_CROP && (double)p->resize * lng / shrt >= 1 << 30)
        return ws_errorf(WS_ERR_LIMIT, "preprocess: %dx%d image resized to shorter side %d is "
                         "too long", img->w, img->h, p->resize);
    if (p->mode == WS_PREPROCESS_SQUARE) { W = R; H = R; }
    else preprocess_resized_size(img->w, img->h, p->resize, &W, &H);
    /* torchvision CenterCrop: offsets int(round((size - R) / 2)), round half to even; a side
     * smaller than R is first zero-padded by (R - size) // 2 before it. Only the part of the
     * resized image inside the crop is computed (resize_pil_bicubic_window), into the output. */
    int top = H < R ? -((R - H) / 2) : (int)nearbyint((H - R) / 2.0);
    int left = W < R ? -((R - W) / 2) : (int)nearbyint((W - R) / 2.0);
    int x0 = left > 0 ? left : 0, y0 = top > 0 ? top : 0;
    int x1 = left + R < W ? left + R : W, y1 = top + R < H ? top + R : H;
    uint8_t *own = u8 ? NULL : malloc((size_t)R * R * 3);
    uint8_t *out = u8 ? u8 : own;
    int rc = WS_OK;
    if (!out) { rc = ws_errorf(WS_ERR_NOMEM, "preprocess: out of memory"); goto done; }
    if (x1 - x0 < R || y1 - y0 < R) memset(out, 0, (size_t)R * R * 3);
    rc = resize_pil_bicubic_window(img->rgb, img->w, img->h, W, H, x0, y0, x1 - x0, y1 - y0,
                                   out + ((size_t)(y0 - top) * R + (x0 - left)) * 3,
                                   (size_t)R * 3);
    if (rc < 0) goto done;
    if (chw) preprocess_normalize(out, R, p->mean, p->std, chw);
done:
    free(own);
    return rc;
}
