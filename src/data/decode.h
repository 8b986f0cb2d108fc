/* Image decoding by content (magic bytes, never the extension) into 8-bit RGB, giving the same
 * pixels as Pillow 9.4's Image.open(f).convert("RGB"): JPEG through libjpeg with default settings
 * (JDCT_ISLOW, fancy upsampling), CMYK/YCCK as Adobe-inverted CMYK converted like Pillow; PNG
 * (every bit depth and colour type; 16-bit samples keep their high byte, 16-bit grey saturates
 * at 255 like Pillow's "I" -> "RGB"); WebP (first frame, libwebp demux); GIF (first frame);
 * BMP (uncompressed 1/4/8/24/32-bit). Alpha is dropped, never composited. EXIF orientation is
 * ignored unless asked for (then applied like PIL.ImageOps.exif_transpose, JPEG only).
 * The pixel limit is checked on the header, before any pixel memory is allocated. */
#ifndef WEBSSL_DATA_DECODE_H
#define WEBSSL_DATA_DECODE_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    WS_FMT_UNKNOWN = 0, WS_FMT_JPEG, WS_FMT_PNG, WS_FMT_WEBP, WS_FMT_GIF, WS_FMT_BMP
} ws_image_format;

/* Pixels [x0, x1) x [y0, y1). */
typedef struct {
    int x0, y0, x1, y1;
} ws_rect;

typedef struct {
    int w, h;            /* pixels */
    uint8_t *rgb;        /* h*w*3 bytes, row-major, owned */
    ws_rect valid;       /* the decoded pixels: the whole image unless a region was asked for */
    size_t cap;          /* bytes allocated at rgb (>= h*w*3): image_decode_into reuses them */
} ws_image;

/* Asked by a decoder that can skip work once it knows the image size (w x h): sets *need to the
 * pixels the caller will read. `ctx` is ws_decode_opts.region_ctx. */
typedef void (*ws_region_fn)(int w, int h, const void *ctx, ws_rect *need);

/* Pillow's default Image.MAX_IMAGE_PIXELS. */
#define WS_DEFAULT_MAX_PIXELS 89478485ull

typedef struct {
    uint64_t max_pixels;  /* refuse images with more pixels (WS_ERR_LIMIT); 0 = no limit */
    int exif_transpose;   /* 1: apply the EXIF orientation */
    int fast_min_side;    /* > 0: JPEG may be decoded at 1/2, 1/4 or 1/8 scale (DCT domain) as
                           * long as the shorter side stays >= 2 * fast_min_side; 0 = exact */
    ws_region_fn region;  /* optional (JPEG without exif_transpose): pixels outside the region it
                           * names may stay undecoded; those inside are exact, img->valid */
    const void *region_ctx;
} ws_decode_opts;

ws_image_format image_sniff(const uint8_t *data, size_t size);
const char *image_format_name(ws_image_format f);

/* Decode `data` into *img (zeroed on failure). Returns WS_OK, WS_ERR_FORMAT (corrupt or
 * truncated), WS_ERR_UNSUPPORTED (not an image / unsupported variant), WS_ERR_LIMIT (too many
 * pixels) or WS_ERR_NOMEM, with a message for ws_error_message(). Thread-safe. */
int image_decode(const uint8_t *data, size_t size, const ws_decode_opts *opts, ws_image *img);
/* The same into an image that keeps its pixel buffer from one call to the next (zero it before
 * the first call, image_free it after the last): a decoding loop allocates only when an image
 * is larger than every one before, instead of mapping fresh pages for each image. On failure
 * the image is empty (w = h = 0) and may keep its buffer. */
int image_decode_into(const uint8_t *data, size_t size, const ws_decode_opts *opts, ws_image *img);
void image_free(ws_image *img);

/* Per-format decoders behind image_decode (same contract, format already sniffed). */
int decode_jpeg(const uint8_t *data, size_t size, const ws_decode_opts *opts, ws_image *img);
int decode_png(const uint8_t *data, size_t size, const ws_decode_opts *opts, ws_image *img);
int decode_webp(const uint8_t *data, size_t size, const ws_decode_opts *opts, ws_image *img);
int decode_gif(const uint8_t *data, size_t size, const ws_decode_opts *opts, ws_image *img);
int decode_bmp(const uint8_t *data, size_t size, const ws_decode_opts *opts, ws_image *img);

/* Shared by the decoders: WS_OK when w x h is positive and within opts->max_pixels, else
 * WS_ERR_LIMIT / WS_ERR_FORMAT with a message. Sets img->rgb on success: the buffer it holds
 * when large enough, else a new one. */
int image_alloc_checked(ws_image *img, long w, long h, const ws_decode_opts *opts);

#endif
