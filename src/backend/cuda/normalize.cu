/* CUDA uint8 -> f32 normalisation of a batch: pixels[B,3,R,R] = (u8[B,R,R,3] / 255 - mean[c]) /
 * std[c], the float32 operations of common/pixel_norm.h in its order (IEEE division and
 * subtraction: nothing for the compiler to contract), so the result has the bits of the host
 * pipeline's floats. One thread per pixel, grid-stride. Memory bound: reads 3 bytes, writes 12
 * per pixel. */
#include "backend/cuda/cuda_kernels.h"
#include "backend/cuda/cuda_ptx.h"

typedef struct {
    float mean[3], std[3];
} norm_params;

static __global__ void normalize_kernel(float *pixels, const uint8_t *u8, size_t plane, size_t n,
                                        norm_params p) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        const size_t b = i / plane, px = i % plane;
        const uint8_t *in = u8 + 3 * i;
        float *out = pixels + b * 3 * plane + px;
        for (int c = 0; c < 3; c++) out[c * plane] = ((float)in[c] / 255.0f - p.mean[c]) / p.std[c];
    }
}

extern "C" cudaError_t cuda_normalize(float *pixels, const uint8_t *u8, int B, int R, const float mean[3],
                                      const float std[3], cudaStream_t stream) {
    const size_t plane = (size_t)R * R, n = (size_t)B * plane;
    if (n == 0) return cudaSuccess;
    norm_params p;
    for (int c = 0; c < 3; c++) p.mean[c] = mean[c], p.std[c] = std[c];
    const size_t blocks = (n + 255) / 256;
    CUDA_LAUNCH(normalize_kernel, (unsigned)(blocks < 65536 ? blocks : 65536), 256, stream, pixels, u8, plane, n, p);
    return cudaGetLastError();
}
