/* libFuzzer target: the image decoder entry point (every format, EXIF on) followed by the
 * Pillow-exact preprocessing of whatever decodes, crop or square mode and small output sizes
 * picked from the input length, run with the scalar and the AVX2 resize passes: their bytes must
 * agree. The pixel limit (64 Ki pixels) refuses giant-but-valid headers before any allocation,
 * which keeps every run short. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/decode.h"
#include "data/preprocess.h"
#include "data/resize_pil.h"

#define RMAX 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ws_decode_opts o = {1u << 16, 1, 0};
    ws_image img;
    if (image_decode(data, size, &o, &img) != 0) return 0;
    int R = 1 + (int)(size % RMAX), S = 1 + (int)(size / RMAX % 23);
    ws_preprocess p = {(size / 7) & 1 ? WS_PREPROCESS_SQUARE : WS_PREPROCESS_CROP, S, R,
                       {0.5f, 0.5f, 0.5f}, {0.25f, 0.25f, 0.25f}};
    uint8_t a[RMAX * RMAX * 3], b[RMAX * RMAX * 3];
    float chw[3 * RMAX * RMAX];
    resize_pil_use_simd(0);
    int ra = preprocess_image(&img, &p, a, NULL);
    resize_pil_use_simd(1);
    int rb = preprocess_image(&img, &p, b, chw);
    image_free(&img);
    if (ra != rb || (ra == 0 && memcmp(a, b, (size_t)R * R * 3) != 0)) abort();
    return 0;
}
