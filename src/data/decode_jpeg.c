/* JPEG decoding with the libjpeg API, set up as Pillow 9.4 does it: default DCT method and fancy
 * upsampling; 4-component files (CMYK, YCCK) read as CMYK, taken as Adobe-inverted and converted
 * like Pillow's CMYK -> RGB. Running out of data is an error (Pillow: "image file is truncated").
 * Optional DCT-domain downscaling (fast decode) and EXIF orientation. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "common/error.h"
#include "data/decode.h"
#include "data/exif.h"

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
    int truncated;
} jerr_mgr;

static void jerr_exit(j_common_ptr cinfo) {
    jerr_mgr *e = (jerr_mgr *)cinfo->err;
    cinfo->err->format_message(cinfo, e->msg);
    longjmp(e->jump, 1);
}

/* Warnings are ignored as Pillow ignores them, except the data running out. */
static void jerr_emit(j_common_ptr cinfo, int level) {
    jerr_mgr *e = (jerr_mgr *)cinfo->err;
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) {
        e->truncated = 1;
        snprintf(e->msg, sizeof e->msg, "image file is truncated");
        longjmp(e->jump, 1);
    }
}

/* Pillow: "CMYK;I" unpacking inverts, then R = nk - nk*C/255 with nk = 255 - K (rounded). */
static void cmyk_to_rgb(const uint8_t *in, uint8_t *out, int w) {
    for (int x = 0; x < w; x++, in += 4, out += 3) {
        int nk = in[3];   /* 255 - (255 - raw K) */
        for (int c = 0; c < 3; c++) {
            int t = (255 - in[c]) * nk + 128;
            out[c] = (uint8_t)(nk - (((t >> 8) + t) >> 8));
        }
    }
}

int decode_jpeg(const uint8_t *data, size_t size, const ws_decode_opts *opts, ws_image *img) {
    struct jpeg_decompress_struct cinfo;
    jerr_mgr jerr;
    uint8_t *volatile row = NULL;
    memset(&jerr, 0, sizeof jerr);
    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = jerr_exit;
    jerr.pub.emit_message = jerr_emit;
    if (setjmp(jerr.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(row);
        image_free(img);
        return ws_errorf(WS_ERR_FORMAT, "JPEG: %s", jerr.msg);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    if (opts && opts->exif_transpose) jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(&cinfo, TRUE);
    int rc;
    unsigned long long px = (unsigned long long)cinfo.image_width * cinfo.image_height;
    if (opts && opts->max_pixels && px > opts->max_pixels) {
        rc = ws_errorf(WS_ERR_LIMIT, "JPEG is %ux%u = %llu pixels, over the limit of %llu",
                       cinfo.image_width, cinfo.image_height, px,
                       (unsigned long long)opts->max_pixels);
        jpeg_destroy_decompress(&cinfo);
        return rc;
    }
    int ncomp = cinfo.num_components;
    if (ncomp == 1) cinfo.out_color_space = JCS_GRAYSCALE;
    else if (ncomp == 3) cinfo.out_color_space = JCS_RGB;
    else if (ncomp == 4) cinfo.out_color_space = JCS_CMYK;
    else {
        jpeg_destroy_decompress(&cinfo);
        return ws_errorf(WS_ERR_UNSUPPORTED, "JPEG with %d components", ncomp);
    }
    if (opts && opts->fast_min_side > 0) {
        unsigned s = cinfo.image_width < cinfo.image_height ? cinfo.image_width : cinfo.image_height;
        unsigned need = 2u * (unsigned)opts->fast_min_side;
        cinfo.scale_num = 1;
        cinfo.scale_denom = 1;
        for (unsigned d = 8; d > 1; d /= 2)
            if ((s + d - 1) / d >= need) { cinfo.scale_denom = d; break; }
    }
    jpeg_start_decompress(&cinfo);
    if ((rc = image_alloc_checked(img, cinfo.output_width, cinfo.output_height, NULL)) < 0) {
        jpeg_destroy_decompress(&cinfo);
        return rc;
    }
    row = malloc((size_t)cinfo.output_width * cinfo.output_components);
    if (!row) longjmp(jerr.jump, 1);
    while (cinfo.output_scanline < cinfo.output_height) {
        uint8_t *out = img->rgb + (size_t)cinfo.output_scanline * img->w * 3;
        if (ncomp == 3) {   /* straight into the image, as many rows per call as libjpeg gives */
            JSAMPROW rows[16];
            JDIMENSION n = cinfo.output_height - cinfo.output_scanline;
            n = n < 16 ? n : 16;
            for (JDIMENSION i = 0; i < n; i++) rows[i] = out + (size_t)i * img->w * 3;
            jpeg_read_scanlines(&cinfo, rows, n);
            continue;
        }
        JSAMPROW rows[1] = {row};
        jpeg_read_scanlines(&cinfo, rows, 1);
        if (ncomp == 1) {
            for (int x = 0; x < img->w; x++) out[3 * x] = out[3 * x + 1] = out[3 * x + 2] = row[x];
        } else if (ncomp == 4) {
            cmyk_to_rgb(row, out, img->w);
        }
    }
    int orientation = 1;
    if (opts && opts->exif_transpose)
        for (jpeg_saved_marker_ptr m = cinfo.marker_list; m; m = m->next)
            if (m->marker == JPEG_APP0 + 1 && m->data_length > 6 && !memcmp(m->data, "Exif\0\0", 6))
                orientation = exif_orientation(m->data + 6, m->data_length - 6);
    /* No jpeg_finish_decompress: every pixel is in; a missing EOI after them is no error. */
    jpeg_destroy_decompress(&cinfo);
    free(row);
    row = NULL;
    return orientation == 1 ? WS_OK : exif_apply_orientation(img, orientation);
}
