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
    size_t n = (size_t)R * R;
    for (int c = 0; c < 3; c++) {
        float *o = chw + c * n;
        for (size_t i = 0; i < n; i++) o[i] = ((float)u8[3 * i + c] / 255.0f - mean[c]) / std[c];
    }
}

int preprocess_image(const ws_image *img, const ws_preprocess *p, uint8_t *u8, float *chw) {
    int R = p->crop, W, H;
    if (R <= 0 || (p->mode == WS_PREPROCESS_CROP && p->resize <= 0))
        return ws_errorf(WS_ERR_ARG, "preprocess: bad sizes (resize %d, crop %d)", p->resize, R);
    if (p->mode == WS_PREPROCESS_SQUARE) { W = R; H = R; }
    else preprocess_resized_size(img->w, img->h, p->resize, &W, &H);
    uint8_t *own = u8 ? NULL : malloc((size_t)R * R * 3);
    uint8_t *out = u8 ? u8 : own;
    uint8_t *tmp = (W == R && H == R) ? out : malloc((size_t)W * H * 3);
    int rc = WS_OK;
    if (!out || !tmp) { rc = ws_errorf(WS_ERR_NOMEM, "preprocess: out of memory"); goto done; }
    if ((rc = resize_pil_bicubic(img->rgb, img->w, img->h, tmp, W, H)) < 0) goto done;
    if (tmp != out) {
        /* torchvision CenterCrop: int(round((size - R) / 2)), round half to even; pad with 0. */
        int top = (int)nearbyint((H - R) / 2.0), left = (int)nearbyint((W - R) / 2.0);
        memset(out, 0, (size_t)R * R * 3);
        for (int y = 0; y < R; y++) {
            int sy = y + top;
            if (sy < 0 || sy >= H) continue;
            int x0 = left < 0 ? -left : 0, x1 = W - left < R ? W - left : R;
            if (x1 > x0)
                memcpy(out + ((size_t)y * R + x0) * 3, tmp + ((size_t)sy * W + x0 + left) * 3,
                       (size_t)(x1 - x0) * 3);
        }
    }
    if (chw) preprocess_normalize(out, R, p->mean, p->std, chw);
done:
    if (tmp != out) free(tmp);
    free(own);
    return rc;
}
