/* Format sniffing and dispatch to the per-format decoders; shared size check and allocation. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "data/decode.h"

ws_image_format image_sniff(const uint8_t *d, size_t n) {
    if (n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF) return WS_FMT_JPEG;
    if (n >= 8 && !memcmp(d, "\x89PNG\r\n\x1a\n", 8)) return WS_FMT_PNG;
    if (n >= 12 && !memcmp(d, "RIFF", 4) && !memcmp(d + 8, "WEBP", 4)) return WS_FMT_WEBP;
    if (n >= 6 && (!memcmp(d, "GIF87a", 6) || !memcmp(d, "GIF89a", 6))) return WS_FMT_GIF;
    if (n >= 2 && d[0] == 'B' && d[1] == 'M') return WS_FMT_BMP;
    return WS_FMT_UNKNOWN;
}

const char *image_format_name(ws_image_format f) {
    static const char *names[] = {"unknown", "jpeg", "png", "webp", "gif", "bmp"};
    return (unsigned)f < sizeof names / sizeof names[0] ? names[f] : "unknown";
}

int image_alloc_checked(ws_image *img, long w, long h, const ws_decode_opts *opts) {
    if (w <= 0 || h <= 0) return ws_errorf(WS_ERR_FORMAT, "invalid image size %ldx%ld", w, h);
    unsigned long long px = (unsigned long long)w * (unsigned long long)h;
    if (opts && opts->max_pixels && px > opts->max_pixels)
        return ws_errorf(WS_ERR_LIMIT, "image is %ldx%ld = %llu pixels, over the limit of %llu",
                         w, h, px, (unsigned long long)opts->max_pixels);
    if (!img->rgb || img->cap < (size_t)px * 3) {
        free(img->rgb);
        img->cap = 0;
        if (!(img->rgb = malloc((size_t)px * 3))) return ws_errorf(WS_ERR_NOMEM, "out of memory for a %ldx%ld image", w, h);
        img->cap = (size_t)px * 3;
    }
    img->w = (int)w;
    img->h = (int)h;
    img->valid = (ws_rect){0, 0, (int)w, (int)h};
    return WS_OK;
}

int image_decode(const uint8_t *data, size_t size, const ws_decode_opts *opts, ws_image *img) {
    memset(img, 0, sizeof *img);
    int rc = image_decode_into(data, size, opts, img);
    if (rc < 0) image_free(img);
    return rc;
}

int image_decode_into(const uint8_t *data, size_t size, const ws_decode_opts *opts, ws_image *img) {
    img->w = img->h = 0;
    img->valid = (ws_rect){0, 0, 0, 0};
    if (!data || size == 0) return ws_errorf(WS_ERR_FORMAT, "empty image data");
    int rc;
    switch (image_sniff(data, size)) {
    case WS_FMT_JPEG: rc = decode_jpeg(data, size, opts, img); break;
    case WS_FMT_PNG: rc = decode_png(data, size, opts, img); break;
    case WS_FMT_WEBP: rc = decode_webp(data, size, opts, img); break;
    case WS_FMT_GIF: rc = decode_gif(data, size, opts, img); break;
    case WS_FMT_BMP: rc = decode_bmp(data, size, opts, img); break;
    default:
        return ws_errorf(WS_ERR_UNSUPPORTED, "not a JPEG, PNG, WebP, GIF or BMP image");
    }
    if (rc < 0) img->w = img->h = 0, img->valid = (ws_rect){0, 0, 0, 0};
    return rc;
}

void image_free(ws_image *img) {
    if (!img) return;
    free(img->rgb);
    memset(img, 0, sizeof *img);
}
