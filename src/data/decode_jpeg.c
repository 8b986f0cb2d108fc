/* JPEG decoding with the libjpeg API, set up as Pillow 9.4 does it: default DCT method and fancy
 * upsampling; 4-component files (CMYK, YCCK) read as CMYK, taken as Adobe-inverted and converted
 * like Pillow's CMYK -> RGB. The verdict on damaged data is Pillow's: running out of data before
 * the last row is an error ("image file is truncated"), and so is every libjpeg error up to the
 * end of the image, the markers after the scan included (jpeg_finish_decompress, as Pillow);
 * libjpeg's warnings (corrupt data, a bad Huffman code, extraneous bytes) are not, as in Pillow.
 * Optional DCT-domain downscaling (fast decode), EXIF orientation, and decoding of only the
 * region the caller reads (columns cropped and rows skipped in libjpeg, with a margin). */
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
    int rows_done;   /* every row is out: the data may end before EOI (Pillow stops there too) */
} jerr_mgr;

static void jerr_exit(j_common_ptr cinfo) {
    jerr_mgr *e = (jerr_mgr *)cinfo->err;
    cinfo->err->format_message(cinfo, e->msg);
    longjmp(e->jump, 1);
}

/* Warnings are ignored as Pillow ignores them, except the data running out before the last row
 * (jpeg_mem_src then pads with an EOI; Pillow's suspending source reports the truncation). */
static void jerr_emit(j_common_ptr cinfo, int level) {
    jerr_mgr *e = (jerr_mgr *)cinfo->err;
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF && !e->rows_done) {
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
    /* Region: libjpeg widens a column crop to whole iMCUs, and upsampling next to a cropped or
     * skipped area lacks the true neighbours, so decode one iMCU beyond the region each way; the
     * region itself then comes out as in a full decode (data_pixels_exact checks it). Rows
     * below it are still entropy-decoded (skipped), so a truncated file fails as before. */
    JDIMENSION xoff = 0, y_end = cinfo.output_height;
    ws_rect need = img->valid;
    if (opts && opts->region && !opts->exif_transpose) {
        opts->region(img->w, img->h, opts->region_ctx, &need);
        int mx = cinfo.max_h_samp_factor * cinfo.min_DCT_scaled_size;
        int my = cinfo.max_v_samp_factor * cinfo.min_DCT_scaled_size;
        JDIMENSION x0 = need.x0 > mx ? (JDIMENSION)(need.x0 - mx) : 0;
        JDIMENSION x1 = need.x1 + mx < img->w ? (JDIMENSION)(need.x1 + mx) : (JDIMENSION)img->w;
        JDIMENSION cw = x1 - x0;
        if (cw < (JDIMENSION)img->w) jpeg_crop_scanline(&cinfo, &x0, &cw);
        xoff = x0;
        if (need.y0 > my) jpeg_skip_scanlines(&cinfo, (JDIMENSION)(need.y0 - my));
        y_end = need.y1 + my < img->h ? (JDIMENSION)(need.y1 + my) : (JDIMENSION)img->h;
    }
    row = malloc((size_t)cinfo.output_width * cinfo.output_components);
    if (!row) longjmp(jerr.jump, 1);
    int cols = (int)cinfo.output_width;   /* after a crop: the cropped width */
    while (cinfo.output_scanline < y_end) {
        uint8_t *out = img->rgb + ((size_t)cinfo.output_scanline * img->w + xoff) * 3;
        if (ncomp == 3) {   /* straight into the image, as many rows per call as libjpeg gives */
            JSAMPROW rows[16];
            JDIMENSION n = y_end - cinfo.output_scanline;
            n = n < 16 ? n : 16;
            for (JDIMENSION i = 0; i < n; i++) rows[i] = out + (size_t)i * img->w * 3;
            jpeg_read_scanlines(&cinfo, rows, n);
            continue;
        }
        JSAMPROW rows[1] = {row};
        jpeg_read_scanlines(&cinfo, rows, 1);
        if (ncomp == 1) {
            for (int x = 0; x < cols; x++) out[3 * x] = out[3 * x + 1] = out[3 * x + 2] = row[x];
        } else if (ncomp == 4) {
            cmyk_to_rgb(row, out, cols);
        }
    }
    if (cinfo.output_scanline < cinfo.output_height) {
        /* Skipping to the very end would not read the data; the last row makes it. */
        jpeg_skip_scanlines(&cinfo, cinfo.output_height - 1 - cinfo.output_scanline);
        JSAMPROW last[1] = {row};
        jpeg_read_scanlines(&cinfo, last, 1);
    }
    img->valid = need;
    int orientation = 1;
    if (opts && opts->exif_transpose)   /* the first Exif segment counts, as in Pillow */
        for (jpeg_saved_marker_ptr m = cinfo.marker_list; m; m = m->next)
            if (m->marker == JPEG_APP0 + 1 && m->data_length > 6 && !memcmp(m->data, "Exif\0\0", 6)) {
                orientation = exif_orientation(m->data + 6, m->data_length - 6);
                break;
            }
    /* The rest of the data up to EOI, as Pillow reads it: a marker there that libjpeg refuses (a
     * second SOF, a bad table: scan data overwritten) is an error; a missing EOI is not. This
     * frees the saved markers, hence after the orientation. */
    jerr.rows_done = 1;
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(row);
    row = NULL;
    return orientation == 1 ? WS_OK : exif_apply_orientation(img, orientation);
}
