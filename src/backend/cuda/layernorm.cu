/* CUDA LayerNorm, and the residual + LayerScale update fused with the LayerNorm that follows it
 * (cuda_layernorm, cuda_residual_layernorm): one kernel, one block per row. Each thread holds up
 * to LN_VPT groups of 4 channels in registers (16-byte f32 / 8-byte bf16 loads), so the row is
 * read once: the fused form adds gamma * (y + bias) to x in f32 and writes x back, then both forms
 * take the mean and the biased variance in f32 by two passes over the registers (block sums:
 * warp shuffles, then one partial per warp in shared memory) and write the normalised row in the
 * output dtype. Memory bound: LayerNorm reads 4 and writes 2 or 4 bytes per element; the fused
 * form reads x and y (4 + 2 or 4) and writes x and xn (4 + 2 or 4), one read of x and one launch
 * fewer than the residual update and the LayerNorm apart. */
#include "backend/cuda/cuda_elem.h"
#include "backend/cuda/cuda_kernels.h"
#include "backend/cuda/cuda_ptx.h"

enum { LN_VPT = 4, LN_MAX_THREADS = 1024, LN_MAX_C = 4 * LN_VPT * LN_MAX_THREADS };

static __device__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* Sum of v over the block (blockDim.x a multiple of 32), the same value in every thread. partial
 * holds one value per warp and is used by one call only, so no barrier is needed after it. */
static __device__ float block_sum(float v, float *partial) {
    v = warp_sum(v);
    if (threadIdx.x % 32 == 0) partial[threadIdx.x / 32] = v;
    __syncthreads();
    float s = 0.0f;
    for (unsigned i = 0; i < blockDim.x / 32; i++) s += partial[i];
    return s;
}

/* Row blockIdx.x. RESIDUAL: x += gamma * (y + bias) first (and x written back); otherwise x is
 * only read (the LayerNorm input) and y, bias, gamma are unused. */
template <typename YT, typename OT, bool RESIDUAL>
static __global__ void layernorm_kernel(float *x, const YT *y, const float *bias, const float *gamma, OT *xn,
                                        const float *w, const float *b, int C, float eps) {
    __shared__ float partial[2][LN_MAX_THREADS / 32];
    const int C4 = C / 4;
    const size_t row = (size_t)blockIdx.x * C;
    float v[LN_VPT][4];
    float s = 0.0f;
    for (int k = 0; k < LN_VPT; k++) {
        const int c = (k * (int)blockDim.x + (int)threadIdx.x) * 4;
        if (c >= C) continue;
        vec_load<4>(x + row + c, v[k]);
        if (RESIDUAL) {
            float r[4];
            vec_load<4>(y + row + c, r);
            for (int i = 0; i < 4; i++) {
                float d = r[i];
                if (bias) d += bias[c + i];
                if (gamma) d *= gamma[c + i];
                v[k][i] += d;
            }
            vec_store<4>(x + row + c, v[k]);
        }
        s += (v[k][0] + v[k][1]) + (v[k][2] + v[k][3]);
    }
    const float mean = block_sum(s, partial[0]) / (float)C;
    float q = 0.0f;
    for (int k = 0; k < LN_VPT; k++) {
        if ((k * (int)blockDim.x + (int)threadIdx.x) >= C4) continue;
        for (int i = 0; i < 4; i++) {
            const float d = v[k][i] - mean;
            q += d * d;
        }
    }
    const float rstd = rsqrtf(block_sum(q, partial[1]) / (float)C + eps);
    for (int k = 0; k < LN_VPT; k++) {
        const int c = (k * (int)blockDim.x + (int)threadIdx.x) * 4;
        if (c >= C) continue;
        float o[4];
        for (int i = 0; i < 4; i++) o[i] = (v[k][i] - mean) * rstd * w[c + i] + b[c + i];
        vec_store<4>(xn + row + c, o);
    }
}

template <typename YT, typename OT, bool RESIDUAL>
static cudaError_t launch(float *x, const void *y, const float *bias, const float *gamma, void *xn, const float *w,
                          const float *b, int M, int C, float eps, cudaStream_t stream) {
    const int groups = (C / 4 + LN_VPT - 1) / LN_VPT;   /* threads needed */
    const int threads = (groups + 31) / 32 * 32;
    CUDA_LAUNCH((layernorm_kernel<YT, OT, RESIDUAL>), M, threads, stream, x, (const YT *)y, bias, gamma, (OT *)xn,
                w, b, C, eps);
    return cudaGetLastError();
}

/* The rows this kernel can hold: C a multiple of 4 up to LN_MAX_C, 4-element aligned rows. */
static bool shape_ok(int C, const void *p, size_t size) {
    return C > 0 && C % 4 == 0 && C <= LN_MAX_C && vec4_ok(p, size);
}

extern "C" cudaError_t cuda_layernorm(void *out, ws_dtype odt, const float *in, const float *w, const float *b,
                                      int M, int C, float eps, cudaStream_t stream) {
    if (M <= 0) return cudaSuccess;
    if (!dtype_ok(odt) || !shape_ok(C, in, 4) || !shape_ok(C, out, elem_bytes(odt))) return cudaErrorInvalidValue;
    float *x = (float *)in;   /* read only: the kernel writes x only in its residual form */
    if (odt == WS_DTYPE_F32) return launch<float, float, false>(x, NULL, NULL, NULL, out, w, b, M, C, eps, stream);
    return launch<float, __nv_bfloat16, false>(x, NULL, NULL, NULL, out, w, b, M, C, eps, stream);
}

extern "C" cudaError_t cuda_residual_layernorm(float *x, const void *y, ws_dtype ydt, const float *bias,
                                               const float *gamma, void *xn, ws_dtype odt, const float *ln_w,
                                               const float *ln_b, int M, int C, float eps, cudaStream_t stream) {
    if (M <= 0) return cudaSuccess;
    if (!dtype_ok(ydt) || !dtype_ok(odt) || !shape_ok(C, x, 4) || !shape_ok(C, y, elem_bytes(ydt)) ||
        !shape_ok(C, xn, elem_bytes(odt)) || (xn == (void *)x && odt != WS_DTYPE_F32))
        return cudaErrorInvalidValue;
    const bool yf = ydt == WS_DTYPE_F32, of = odt == WS_DTYPE_F32;
    if (yf && of) return launch<float, float, true>(x, y, bias, gamma, xn, ln_w, ln_b, M, C, eps, stream);
    if (yf) return launch<float, __nv_bfloat16, true>(x, y, bias, gamma, xn, ln_w, ln_b, M, C, eps, stream);
    if (of) return launch<__nv_bfloat16, float, true>(x, y, bias, gamma, xn, ln_w, ln_b, M, C, eps, stream);
    return launch<__nv_bfloat16, __nv_bfloat16, true>(x, y, bias, gamma, xn, ln_w, ln_b, M, C, eps, stream);
}
