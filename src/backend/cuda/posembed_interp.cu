/* CUDA position-embedding interpolation to another patch grid: bicubic (A = -0.75), clamped
 * borders, align_corners = False, the two source-coordinate rules of cuda_kernels.h (the original
 * Web-SSL scale factor with its +0.1 offset, and HF's output size). Like torch (and
 * model/posembed.c) it interpolates along x first, then combines the rows along y. Mirrors torch's
 * upsample_bicubic2d: source = scale * (dst + 0.5) - 0.5, t = source - floor(source), taps at
 * floor - 1 .. floor + 2 clamped to the grid. Runs once per resolution; one thread per output. */
#include "backend/cuda/cuda_kernels.h"

static __device__ float cubic1(float x, float A) { return ((A + 2.0f) * x - (A + 3.0f)) * x * x + 1.0f; }
static __device__ float cubic2(float x, float A) { return ((A * x - 5.0f * A) * x + 8.0f * A) * x - 4.0f * A; }

static __device__ void cubic_coeffs(float c[4], float t) {
    const float A = -0.75f;
    c[0] = cubic2(t + 1.0f, A);
    c[1] = cubic1(t, A);
    c[2] = cubic1(1.0f - t, A);
    c[3] = cubic2(2.0f - t, A);
}

static __global__ void posembed_kernel(float *out, const float *pos, int g_old, int g_new, int C, float scale) {
    const size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    const size_t n = (size_t)(1 + g_new * g_new) * C;
    if (i >= n) return;
    const int c = (int)(i % C), row = (int)(i / C);
    if (row == 0 || g_new == g_old) {
        out[i] = pos[i];
        return;
    }
    const int oy = (row - 1) / g_new, ox = (row - 1) % g_new;
    const float sy = scale * (oy + 0.5f) - 0.5f, sx = scale * (ox + 0.5f) - 0.5f;
    const int iy = (int)floorf(sy), ix = (int)floorf(sx);
    float wy[4], wx[4];
    cubic_coeffs(wy, sy - iy);
    cubic_coeffs(wx, sx - ix);
    float acc = 0.0f;
    for (int a = 0; a < 4; a++) {
        const int y = min(max(iy - 1 + a, 0), g_old - 1);
        float r = 0.0f;
        for (int e = 0; e < 4; e++) {
            const int x = min(max(ix - 1 + e, 0), g_old - 1);
            r += wx[e] * pos[((size_t)1 + (size_t)y * g_old + x) * C + c];
        }
        acc += wy[a] * r;
    }
    out[i] = acc;
}

extern "C" cudaError_t cuda_posembed_interp(float *out, const float *pos, int g_old, int g_new, int C,
                                            int original, cudaStream_t stream) {
    if (g_old <= 0 || g_new <= 0 || C <= 0) return cudaErrorInvalidValue;
    /* torch computes the scale in float: input / output size, or 1 / scale_factor */
    const float scale = original ? (float)(1.0 / (((double)g_new + 0.1) / g_old)) : (float)g_old / (float)g_new;
    const size_t n = (size_t)(1 + g_new * g_new) * C;
    posembed_kernel<<<(unsigned)((n + 255) / 256), 256, 0, stream>>>(out, pos, g_old, g_new, C, scale);
    return cudaGetLastError();
}
