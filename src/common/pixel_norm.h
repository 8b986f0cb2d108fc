/* The one definition of torchvision's ToTensor + Normalize on a uint8 value, in float32 and in
 * this order: x = (v / 255 - mean[c]) / std[c]. The host pipeline (data/preprocess.c) and the CPU
 * backend's normalize op take it from here as a table of the 256 values per channel; the CUDA
 * kernel (backend/cuda/normalize.cu) evaluates the same three IEEE operations per pixel (division
 * and subtraction, nothing to contract), so every path gives the same bits. */
#ifndef WEBSSL_COMMON_PIXEL_NORM_H
#define WEBSSL_COMMON_PIXEL_NORM_H

static inline float ws_pixel_norm(int v, float mean, float std) { return ((float)v / 255.0f - mean) / std; }

/* lut[c][v] = ws_pixel_norm(v, mean[c], std[c]) for the three channels and every uint8 value. */
static inline void ws_pixel_norm_table(const float mean[3], const float std[3], float lut[3][256]) {
    for (int c = 0; c < 3; c++)
        for (int v = 0; v < 256; v++) lut[c][v] = ws_pixel_norm(v, mean[c], std[c]);
}

#endif
