/* libFuzzer target: the image decoder entry point (every format, EXIF on) followed by the
 * Pillow-exact resize and crop of whatever decodes. The pixel limit keeps allocations small. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "data/decode.h"
#include "data/preprocess.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ws_decode_opts o = {1u << 16, 1, 0};
    ws_image img;
    if (image_decode(data, size, &o, &img) != 0) return 0;
    ws_preprocess p = {WS_PREPROCESS_CROP, 9, 7, {0.5f, 0.5f, 0.5f}, {0.25f, 0.25f, 0.25f}};
    uint8_t u8[7 * 7 * 3];
    float chw[3 * 7 * 7];
    preprocess_image(&img, &p, u8, chw);
    image_free(&img);
    return 0;
}
