/* Pillow's bicubic resize (Image.resize(size, BICUBIC) on an RGB image, Pillow 9.4, no box, no
 * reducing_gap), reproduced bit for bit: a = -0.5 cubic filter widened by the scale when
 * downscaling (antialias), coefficients in double normalised to sum 1 then rounded to 22-bit
 * fixed point, a horizontal pass (only over the rows the vertical pass reads) then a vertical
 * pass, each rounding and clipping to uint8. A pass whose size does not change is skipped.
 * Every output pixel depends only on its own coefficient window, so a window of the resized image
 * can be computed alone: only its columns, and only the source rows its vertical taps read,
 * giving the same bytes as resizing fully and cropping (what a centre crop needs). */
#ifndef WEBSSL_DATA_RESIZE_PIL_H
#define WEBSSL_DATA_RESIZE_PIL_H

#include <stddef.h>
#include <stdint.h>

/* Resize interleaved RGB `src` (h x w x 3) to `dst` (H x W x 3). All sizes >= 1.
 * Returns WS_OK or WS_ERR_NOMEM. */
int resize_pil_bicubic(const uint8_t *src, int w, int h, uint8_t *dst, int W, int H);

/* The window [x0, x0 + cw) x [y0, y0 + ch) of the W x H resize of `src` (h x w x 3), written to
 * `dst` as ch rows of cw RGB pixels, `dst_stride` bytes apart. The window must lie inside
 * W x H and be non-empty. Returns WS_OK or WS_ERR_NOMEM. */
int resize_pil_bicubic_window(const uint8_t *src, int w, int h, int W, int H, int x0, int y0,
                              int cw, int ch, uint8_t *dst, size_t dst_stride);

/* The input samples [*lo, *hi) that output samples [first, first + count) of an `in` -> `out`
 * resize along one axis read (the window itself when in == out: that pass is skipped). */
void resize_pil_source_span(int in, int out, int first, int count, int *lo, int *hi);

/* Choose the passes: 1 (the default) uses the AVX2 ones where the CPU has AVX2, 0 the scalar
 * reference passes. Both give the same bytes; for tests and benchmarks. Not thread-safe: call
 * before resizing starts. */
void resize_pil_use_simd(int on);

#endif
