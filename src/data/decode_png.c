/* PNG decoding with libpng, giving Pillow 9.4's convert("RGB") pixels: palettes expanded (tRNS
 * dropped), 1/2/4-bit grey scaled by bit replication, 16-bit samples reduced to their high byte
 * except 16-bit grey without alpha, which Pillow holds as mode "I" and saturates at 255; alpha
 * dropped; no gamma or colour-profile correction. Damaged data as Pillow judges it: a chunk
 * before the image data with a bad CRC is an error, ancillary ones included (libpng would only
 * warn); chunks after the image data are not read. Unlike Pillow, libpng also checks IDAT's CRC. */
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "data/decode.h"

typedef struct {
    const uint8_t *data;
    size_t size, pos;
    char msg[160];
} png_src;

static void png_read_mem(png_structp png, png_bytep out, png_size_t n) {
    png_src *s = png_get_io_ptr(png);
    if (n > s->size - s->pos) png_error(png, "image file is truncated");
    memcpy(out, s->data + s->pos, n);
    s->pos += n;
}

static void png_err(png_structp png, png_const_charp msg) {
    png_src *s = png_get_error_ptr(png);
    snprintf(s->msg, sizeof s->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_warn(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

int decode_png(const uint8_t *data, size_t size, const ws_decode_opts *opts, ws_image *img) {
    png_src src = {data, size, 0, ""};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, png_err, png_warn);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    uint8_t *volatile buf = NULL;
    png_bytep *volatile rows = NULL;
    if (!info) {
        png_destroy_read_struct(png ? &png : NULL, NULL, NULL);
        return ws_errorf(WS_ERR_NOMEM, "PNG: out of memory");
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(buf);
        free(rows);
        image_free(img);
        return ws_errorf(WS_ERR_FORMAT, "PNG: %s", src.msg);
    }
    png_set_read_fn(png, &src, png_read_mem);
    png_set_crc_action(png, PNG_CRC_DEFAULT, PNG_CRC_ERROR_QUIT);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    int depth = png_get_bit_depth(png, info), ctype = png_get_color_type(png, info);
    int rc = image_alloc_checked(img, (long)w, (long)h, opts);
    if (rc < 0) {
        png_destroy_read_struct(&png, &info, NULL);
        return ws_error_context(rc, "PNG");
    }
    int gray16 = depth == 16 && ctype == PNG_COLOR_TYPE_GRAY;
    if (ctype == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if ((ctype & PNG_COLOR_MASK_COLOR) == 0 && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16 && !gray16) png_set_strip_16(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    int ch = png_get_channels(png, info);
    buf = malloc(rowbytes * h);
    rows = malloc(h * sizeof *rows);
    if (!buf || !rows) { snprintf(src.msg, sizeof src.msg, "out of memory"); png_longjmp(png, 1); }
    for (png_uint_32 y = 0; y < h; y++) rows[y] = buf + y * rowbytes;
    png_read_image(png, rows);
    for (png_uint_32 y = 0; y < h; y++) {
        const uint8_t *in = rows[y];
        uint8_t *out = img->rgb + (size_t)y * w * 3;
        for (png_uint_32 x = 0; x < w; x++, out += 3) {
            if (gray16) {
                unsigned v = (unsigned)in[2 * x] << 8 | in[2 * x + 1];
                out[0] = out[1] = out[2] = (uint8_t)(v > 255 ? 255 : v);
            } else if (ch <= 2) {
                out[0] = out[1] = out[2] = in[(size_t)x * ch];
            } else {
                memcpy(out, in + (size_t)x * ch, 3);
            }
        }
    }
    png_destroy_read_struct(&png, &info, NULL);
    free(buf);
    free(rows);
    return WS_OK;
}
