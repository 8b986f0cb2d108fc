/* EXIF orientation tag reader and the eight reorientations (see exif.h). Hand-written: reading one
 * tag of IFD0 does not justify a dependency on libexif. */
#include <stdlib.h>

#include "common/error.h"
#include "data/exif.h"

static unsigned rd16(const uint8_t *p, int le) { return le ? p[0] | p[1] << 8 : p[0] << 8 | p[1]; }
static uint32_t rd32(const uint8_t *p, int le) {
    return le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
              : (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

int exif_orientation(const uint8_t *t, size_t n) {
    if (n < 8) return 1;
    int le = t[0] == 'I' && t[1] == 'I';
    if (!le && !(t[0] == 'M' && t[1] == 'M')) return 1;
    uint32_t ifd = rd32(t + 4, le);
    if (ifd > n - 2) return 1;
    unsigned count = rd16(t + ifd, le);
    for (unsigned i = 0; i < count; i++) {
        size_t e = (size_t)ifd + 2 + (size_t)i * 12;
        if (e + 12 > n) return 1;
        if (rd16(t + e, le) == 0x0112) {
            unsigned v = rd16(t + e + 8, le);
            return v >= 1 && v <= 8 ? (int)v : 1;
        }
    }
    return 1;
}

int exif_apply_orientation(ws_image *img, int o) {
    if (o < 2 || o > 8) return WS_OK;
    int w = img->w, h = img->h, swap = o >= 5;
    int W = swap ? h : w, H = swap ? w : h;
    uint8_t *dst = malloc((size_t)W * H * 3);
    if (!dst) return ws_errorf(WS_ERR_NOMEM, "out of memory reorienting a %dx%d image", w, h);
    for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++) {
            int sx, sy;
            switch (o) {
            case 2: sx = w - 1 - x; sy = y; break;
            case 3: sx = w - 1 - x; sy = h - 1 - y; break;
            case 4: sx = x; sy = h - 1 - y; break;
            case 5: sx = y; sy = x; break;
            case 6: sx = y; sy = h - 1 - x; break;
            case 7: sx = w - 1 - y; sy = h - 1 - x; break;
            default: sx = w - 1 - y; sy = x; break;   /* 8 */
            }
            const uint8_t *s = img->rgb + ((size_t)sy * w + sx) * 3;
            uint8_t *d = dst + ((size_t)y * W + x) * 3;
            d[0] = s[0]; d[1] = s[1]; d[2] = s[2];
        }
    }
    free(img->rgb);
    img->rgb = dst;
    img->cap = (size_t)W * H * 3;
    img->w = W;
    img->h = H;
    img->valid = (ws_rect){0, 0, W, H};
    return WS_OK;
}
