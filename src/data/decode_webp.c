/* WebP decoding with libwebp's animation decoder (as Pillow 9.4 does): the first frame on its
 * canvas in non-premultiplied RGBA, alpha dropped. The canvas size is checked first. */
#include <stdlib.h>
#include <webp/decode.h>
#include <webp/demux.h>

#include "common/error.h"
#include "data/decode.h"

int decode_webp(const uint8_t *data, size_t size, const ws_decode_opts *opts, ws_image *img) {
    WebPBitstreamFeatures f;
    if (WebPGetFeatures(data, size, &f) != VP8_STATUS_OK)
        return ws_errorf(WS_ERR_FORMAT, "WebP: bad header");
    int rc = image_alloc_checked(img, f.width, f.height, opts);
    if (rc < 0) return ws_error_context(rc, "WebP");
    WebPData wd = {data, size};
    WebPAnimDecoderOptions o;
    if (!WebPAnimDecoderOptionsInit(&o)) return ws_errorf(WS_ERR_UNSUPPORTED, "WebP: libwebp version");
    o.color_mode = MODE_RGBA;
    o.use_threads = 0;
    WebPAnimDecoder *dec = WebPAnimDecoderNew(&wd, &o);
    WebPAnimInfo ai;
    uint8_t *rgba = NULL;
    int ts;
    if (!dec || !WebPAnimDecoderGetInfo(dec, &ai) || (int)ai.canvas_width != img->w ||
        (int)ai.canvas_height != img->h || !WebPAnimDecoderGetNext(dec, &rgba, &ts)) {
        WebPAnimDecoderDelete(dec);
        return ws_errorf(WS_ERR_FORMAT, "WebP: corrupt or truncated data");
    }
    size_t n = (size_t)img->w * img->h;
    for (size_t i = 0; i < n; i++) {
        img->rgb[3 * i] = rgba[4 * i];
        img->rgb[3 * i + 1] = rgba[4 * i + 1];
        img->rgb[3 * i + 2] = rgba[4 * i + 2];
    }
    WebPAnimDecoderDelete(dec);
    return WS_OK;
}
