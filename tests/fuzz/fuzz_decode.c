/* libFuzzer target: the image decoder entry point (every format; EXIF orientation on for half of
 * the inputs) followed by the Pillow-exact preprocessing of whatever decodes, crop or square mode
 * and small output sizes picked from the input length. Differential: a full decode resized with
 * the scalar passes must give the same bytes as a decode of only the region the crop reads
 * resized with the AVX2 passes. The pixel limit (64 Ki pixels) refuses giant-but-valid headers
 * before any allocation, which keeps every run short. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/decode.h"
#include "data/preprocess.h"
#include "data/resize_pil.h"

#define RMAX 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int R = 1 + (int)(size % RMAX), S = 1 + (int)(size / RMAX % 23);
    ws_preprocess p = {(size / 7) & 1 ? WS_PREPROCESS_SQUARE : WS_PREPROCESS_CROP, S, R,
                       {0.5f, 0.5f, 0.5f}, {0.25f, 0.25f, 0.25f}};
    ws_decode_opts o = {.max_pixels = 1u << 16, .exif_transpose = (int)(size / 3) & 1};
    ws_image img;
    if (image_decode(data, size, &o, &img) != 0) return 0;
    uint8_t a[RMAX * RMAX * 3], b[RMAX * RMAX * 3];
    float chw[3 * RMAX * RMAX];
    resize_pil_use_simd(0);
    int ra = preprocess_image(&img, &p, a, NULL);
    image_free(&img);
    o.region = preprocess_source_region;
    o.region_ctx = &p;
    int rb = image_decode(data, size, &o, &img);
    if (rb == 0) {
        resize_pil_use_simd(1);
        rb = preprocess_image(&img, &p, b, chw);
        image_free(&img);
    }
    if (ra != rb || (ra == 0 && memcmp(a, b, (size_t)R * R * 3) != 0)) abort();
    return 0;
}
