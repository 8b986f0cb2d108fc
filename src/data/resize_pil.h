/* Pillow's bicubic resize (Image.resize(size, BICUBIC) on an RGB image, Pillow 9.4, no box, no
 * reducing_gap), reproduced bit for bit: a = -0.5 cubic filter widened by the scale when
 * downscaling (antialias), coefficients in double normalised to sum 1 then rounded to 22-bit
 * fixed point, a horizontal pass (only over the rows the vertical pass reads) then a vertical
 * pass, each rounding and clipping to uint8. A pass whose size does not change is skipped. */
#ifndef WEBSSL_DATA_RESIZE_PIL_H
#define WEBSSL_DATA_RESIZE_PIL_H

#include <stdint.h>

/* Resize interleaved RGB `src` (h x w x 3) to `dst` (H x W x 3). All sizes >= 1.
 * Returns WS_OK or WS_ERR_NOMEM. */
int resize_pil_bicubic(const uint8_t *src, int w, int h, uint8_t *dst, int W, int H);

#endif
