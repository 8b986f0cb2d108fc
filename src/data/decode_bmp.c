/* BMP decoding: uncompressed 1/4/8-bit palette, 24-bit BGR and 32-bit BGRX (BI_RGB, or bitfields
 * with the standard 8-bit masks), bottom-up or top-down; OS/2 core headers. RLE and 16-bit files
 * are reported as unsupported. Hand-written: no Debian library decodes BMP on its own, and the
 * format is a header plus raw rows. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "data/decode.h"

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static unsigned le16(const uint8_t *p) { return p[0] | p[1] << 8; }

int decode_bmp(const uint8_t *d, size_t n, const ws_decode_opts *opts, ws_image *img) {
    if (n < 26) return ws_errorf(WS_ERR_FORMAT, "BMP: truncated header");
    uint32_t off = le32(d + 10), hsize = le32(d + 14);
    long w, h;
    unsigned bpp, comp = 0, ncolors = 0, palent;
    if (hsize == 12) {
        w = le16(d + 18); h = (int16_t)le16(d + 20); bpp = le16(d + 24); palent = 3;
    } else if (hsize >= 40 && n >= 14 + 40) {
        w = (int32_t)le32(d + 18); h = (int32_t)le32(d + 22); bpp = le16(d + 28);
        comp = le32(d + 30); ncolors = le32(d + 46); palent = 4;
    } else {
        return ws_errorf(WS_ERR_FORMAT, "BMP: unknown header size %u", hsize);
    }
    int topdown = h < 0;
    if (topdown) h = -h;
    if (comp == 3 && (bpp != 32 || n < 14 + 52 || le32(d + 54) != 0xFF0000u ||
                      le32(d + 58) != 0xFF00u || le32(d + 62) != 0xFFu))
        return ws_errorf(WS_ERR_UNSUPPORTED, "BMP: bitfields other than 8-bit BGR");
    if ((comp != 0 && comp != 3) || !(bpp == 1 || bpp == 4 || bpp == 8 || bpp == 24 || bpp == 32))
        return ws_errorf(WS_ERR_UNSUPPORTED, "BMP: %u-bit, compression %u", bpp, comp);
    if (bpp <= 8 && ncolors > 256)   /* Pillow refuses a palette of more than 256 colours */
        return ws_errorf(WS_ERR_FORMAT, "BMP: palette of %u colours (at most 256)", ncolors);
    if (bpp <= 8 && (ncolors == 0 || ncolors > (1u << bpp))) ncolors = 1u << bpp;
    size_t pal = 14 + (size_t)hsize;
    if (bpp <= 8 && pal + (size_t)ncolors * palent > n)
        return ws_errorf(WS_ERR_FORMAT, "BMP: truncated palette");
    int rc = image_alloc_checked(img, w, h, opts);
    if (rc < 0) return ws_error_context(rc, "BMP");
    size_t stride = (((size_t)w * bpp + 31) / 32) * 4;
    if (off > n || (size_t)h * stride > n - off) {
        image_free(img);
        return ws_errorf(WS_ERR_FORMAT, "BMP: image file is truncated");
    }
    for (long y = 0; y < h; y++) {
        const uint8_t *row = d + off + (size_t)(topdown ? y : h - 1 - y) * stride;
        uint8_t *o = img->rgb + (size_t)y * w * 3;
        for (long x = 0; x < w; x++, o += 3) {
            if (bpp <= 8) {
                unsigned bit = (unsigned)(x * bpp), i = (row[bit / 8] >> (8 - bpp - bit % 8)) & ((1u << bpp) - 1);
                const uint8_t *c = d + pal + (size_t)(i < ncolors ? i : 0) * palent;
                o[0] = c[2]; o[1] = c[1]; o[2] = c[0];
            } else {
                const uint8_t *c = row + (size_t)x * (bpp / 8);
                o[0] = c[2]; o[1] = c[1]; o[2] = c[0];
            }
        }
    }
    return WS_OK;
}
