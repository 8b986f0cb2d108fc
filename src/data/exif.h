/* EXIF orientation: read the tag from a TIFF-structured EXIF block and apply it to an RGB image
 * the way PIL.ImageOps.exif_transpose does (2 mirror, 3 rotate 180, 4 flip, 5 transpose,
 * 6 rotate 90 clockwise, 7 transverse, 8 rotate 90 counter-clockwise). */
#ifndef WEBSSL_DATA_EXIF_H
#define WEBSSL_DATA_EXIF_H

#include <stddef.h>
#include <stdint.h>

#include "data/decode.h"

/* Orientation (1..8) from the TIFF block (after "Exif\0\0"); 1 when absent or malformed. */
int exif_orientation(const uint8_t *tiff, size_t n);
/* Reorient img in place (reallocates its pixels). WS_OK or WS_ERR_NOMEM. */
int exif_apply_orientation(ws_image *img, int orientation);

#endif
