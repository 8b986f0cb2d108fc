/* From a decoded RGB image to the model input, as the reference pipelines do it:
 *   crop:   torchvision Resize(resize, BICUBIC) (shorter side to `resize`, longer side
 *           int(resize * long / short)) + CenterCrop(R) (offsets int(round((size - R) / 2)) with
 *           Python's round-half-even; a side smaller than R is zero-padded by (R - size) // 2
 *           before it, as torchvision does);
 *   square: Resize((R, R), BICUBIC), as the official demos do;
 * then ToTensor + Normalize: x = (u8 / 255 - mean[c]) / std[c] in float32, layout [3, R, R]. */
#ifndef WEBSSL_DATA_PREPROCESS_H
#define WEBSSL_DATA_PREPROCESS_H

#include <stdint.h>

#include "data/decode.h"
#include "common/arch.h"

/* The size torchvision's Resize(resize) gives a w x h image (shorter side -> resize). */
void preprocess_resized_size(int w, int h, int resize, int *W, int *H);

/* Preprocess `img` with `p` (p->crop is R). `u8` (R*R*3, HWC) receives the cropped uint8 image
 * when not NULL; `chw` (3*R*R floats) the normalised tensor when not NULL.
 * `img` must hold the pixels preprocess_source_region names (img->valid).
 * Returns WS_OK, WS_ERR_ARG (bad parameters, or img->valid too small), WS_ERR_LIMIT (crop mode:
 * the resized longer side would reach 2^30) or WS_ERR_NOMEM. */
int preprocess_image(const ws_image *img, const ws_preprocess *p, uint8_t *u8, float *chw);
/* A ws_region_fn (ctx: the const ws_preprocess *): the source pixels of a w x h image that
 * preprocess_image reads (crop mode: the crop's taps; square mode: everything). Decoding with it
 * (ws_decode_opts.region) lets the JPEG decoder skip the rest. */
void preprocess_source_region(int w, int h, const void *ctx, ws_rect *need);
/* Normalise a uint8 HWC image (R x R x 3) into a float CHW tensor. */
void preprocess_normalize(const uint8_t *u8, int R, const float mean[3], const float std[3],
                          float *chw);

#endif
