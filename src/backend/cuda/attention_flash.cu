/* CUDA attention core, flash-style: scores are computed a tile of keys at a time with an online
 * softmax (running row max and sum, the output rescaled when the max grows), so no N x N matrix
 * is ever stored. Two kernels behind cuda_attention():
 *
 * attention_mma (round_bf16 = 1, the bf16 path): 4 warps per block, each warp owns 16 query rows
 *   of one (image, head), 64 rows per block; keys and values in tiles of 64 staged in shared
 *   memory as bf16. Both products use the tensor-core instruction mma.sync.m16n8k16 (bf16 in, f32
 *   accumulate) with the fragment layouts of the PTX ISA ("Matrix Fragments for mma.m16n8k16"):
 *   the score accumulators of Q K^T are, element for element, the A fragments of P V, so the
 *   probabilities never leave registers. Fragments come from shared memory through ldmatrix
 *   (.trans for V); rows padded by 8 elements keep its row addresses 16-byte aligned and spread
 *   over the banks. Scores, softmax and the output accumulate in f32.
 *   FLOPs: 4 * N^2 * hs per (image, head).
 * attention_simt (the f32 path, and the bf16 path for other head sizes): one warp per query row,
 *   16 rows per block, keys in chunks of 32 (one per lane) staged in shared memory as f32; CUDA
 *   cores only. With ROUND it rounds q, k, v and the probabilities to bf16 like the mma kernel. */
#include "backend/cuda/cuda_kernels.h"
#include "backend/cuda/cuda_ptx.h"

#include <cuda_bf16.h>
#include <math.h>

enum { MMA_WARPS = 4, MMA_BQ = 16 * MMA_WARPS, MMA_BK = 64, MMA_PAD = 8 };

static __device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<uint32_t *>(&v);
}

/* Rows [r0, r0 + 64) of one head's q, k or v (f32 in global, row stride ld) into shared memory
 * as bf16; rows past N become zeros. */
template <int HS>
static __device__ void load_tile_bf16(__nv_bfloat16 (*dst)[HS + MMA_PAD], const float *src, size_t ld,
                                      int r0, int N) {
    constexpr int V4 = HS / 4;
    for (int i = threadIdx.x; i < MMA_BK * V4; i += MMA_WARPS * 32) {
        const int r = i / V4, c = (i % V4) * 4;
        float4 v = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        if (r0 + r < N) v = *reinterpret_cast<const float4 *>(src + (size_t)(r0 + r) * ld + c);
        uint2 packed = make_uint2(pack_bf16(v.x, v.y), pack_bf16(v.z, v.w));
        *reinterpret_cast<uint2 *>(&dst[r][c]) = packed;
    }
}

template <int HS>
__global__ void __launch_bounds__(MMA_WARPS * 32)
attention_mma(float *out, const float *qkv, int N, int NH) {
    constexpr int KS = HS / 16;      /* k-steps over the head dimension */
    constexpr int DT = HS / 8;       /* n-tiles of the output */
    constexpr int ST = MMA_BK / 8;   /* n-tiles of the scores */
    __shared__ __align__(16) __nv_bfloat16 sK[MMA_BK][HS + MMA_PAD];
    __shared__ __align__(16) __nv_bfloat16 sV[MMA_BK][HS + MMA_PAD];

    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane >> 2, t = lane & 3;
    /* ldmatrix.x4 row addresses: lane l points at row l % 8 of matrix l / 8, matrices 0-3 being
     * (rows +0, cols +0), (rows +8, cols +0), (rows +0, cols +8), (rows +8, cols +8) of a 16x16
     * tile: the A fragment order (a0a1, a2a3, a4a5, a6a7), and for B^T rows the fragments
     * b0b1, b2b3 of two neighbouring 8-column tiles when rows and columns are exchanged. */
    const int lr = (lane & 7) + ((lane >> 3) & 1) * 8, lc = (lane >> 4) * 8;
    const int q0 = blockIdx.x * MMA_BQ, h = blockIdx.y;
    const size_t Cl = (size_t)NH * HS, ld = 3 * Cl;
    const float *base = qkv + (size_t)blockIdx.z * N * ld + (size_t)h * HS;

    /* Q fragments of this warp's 16 rows, staged through sK. */
    load_tile_bf16<HS>(sK, base, ld, q0, N);
    __syncthreads();
    uint32_t qa[KS][4];
#pragma unroll
    for (int kk = 0; kk < KS; kk++) ptx_ldmatrix_x4(qa[kk], &sK[warp * 16 + lr][kk * 16 + lc]);

    const float scale_log2 = 1.4426950408889634f / sqrtf((float)HS);
    float o[DT][4] = {};
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};   /* rows g and g + 8 */

    for (int k0 = 0; k0 < N; k0 += MMA_BK) {
        __syncthreads();
        load_tile_bf16<HS>(sK, base + Cl, ld, k0, N);
        load_tile_bf16<HS>(sV, base + 2 * Cl, ld, k0, N);
        __syncthreads();

        /* S = Q K^T: B = K^T, so K's rows (keys) give B fragments untransposed; one ldmatrix.x4
         * gives b0b1 of key tiles 2np and 2np + 1 (matrices (keys +0, dims +0), (+0, +8),
         * (+8, +0), (+8, +8)). */
        float s[ST][4] = {};
#pragma unroll
        for (int kk = 0; kk < KS; kk++)
#pragma unroll
            for (int np = 0; np < ST / 2; np++) {
                uint32_t kb[4];
                ptx_ldmatrix_x4(kb, &sK[np * 16 + (lane >> 4) * 8 + (lane & 7)][kk * 16 + ((lane >> 3) & 1) * 8]);
                ptx_mma_bf16_16816(s[2 * np], qa[kk], kb[0], kb[1]);
                ptx_mma_bf16_16816(s[2 * np + 1], qa[kk], kb[2], kb[3]);
            }

        float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
        for (int nt = 0; nt < ST; nt++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const int key = k0 + nt * 8 + t * 2 + (e & 1);
                s[nt][e] = key < N ? s[nt][e] * scale_log2 : -INFINITY;
                mx[e >> 1] = fmaxf(mx[e >> 1], s[nt][e]);
            }
        float alpha[2];
#pragma unroll
        for (int r = 0; r < 2; r++) {
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
            const float m_new = fmaxf(m[r], mx[r]);   /* finite: key k0 < N is in every tile */
            alpha[r] = exp2f(m[r] - m_new);
            m[r] = m_new;
            l[r] *= alpha[r];
        }
#pragma unroll
        for (int nt = 0; nt < ST; nt++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                s[nt][e] = exp2f(s[nt][e] - m[e >> 1]);
                l[e >> 1] += s[nt][e];
            }
#pragma unroll
        for (int dt = 0; dt < DT; dt++) {
            o[dt][0] *= alpha[0];
            o[dt][1] *= alpha[0];
            o[dt][2] *= alpha[1];
            o[dt][3] *= alpha[1];
        }
        /* O += P V: keys in k-steps of 16; the score tiles 2j and 2j+1 form P's A fragment. */
#pragma unroll
        for (int j = 0; j < MMA_BK / 16; j++) {
            const uint32_t pa[4] = {pack_bf16(s[2 * j][0], s[2 * j][1]), pack_bf16(s[2 * j][2], s[2 * j][3]),
                                    pack_bf16(s[2 * j + 1][0], s[2 * j + 1][1]),
                                    pack_bf16(s[2 * j + 1][2], s[2 * j + 1][3])};
            /* B = V (keys x dims, row-major): ldmatrix.trans of (keys +0, dims +0), (+8, +0),
             * (+0, +8), (+8, +8) gives b0b1 of output tiles 2dp and 2dp + 1. */
#pragma unroll
            for (int dp = 0; dp < DT / 2; dp++) {
                uint32_t vb[4];
                ptx_ldmatrix_x4_trans(vb, &sV[j * 16 + lr][dp * 16 + lc]);
                ptx_mma_bf16_16816(o[2 * dp], pa, vb[0], vb[1]);
                ptx_mma_bf16_16816(o[2 * dp + 1], pa, vb[2], vb[3]);
            }
        }
    }

#pragma unroll
    for (int r = 0; r < 2; r++) {
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
    }
    float *obase = out + (size_t)blockIdx.z * N * Cl + (size_t)h * HS;
#pragma unroll
    for (int r = 0; r < 2; r++) {
        const int q = q0 + warp * 16 + g + r * 8;
        if (q >= N) continue;
        const float inv = 1.0f / l[r];
#pragma unroll
        for (int dt = 0; dt < DT; dt++)
            *reinterpret_cast<float2 *>(obase + (size_t)q * Cl + dt * 8 + t * 2) =
                make_float2(o[dt][2 * r] * inv, o[dt][2 * r + 1] * inv);
    }
}

enum { F32_WARPS = 16, F32_BK = 32, F32_MAXD = 4 };   /* F32_MAXD * 32 = largest head size */

static __device__ __forceinline__ float round_bf16(float x) { return __bfloat162float(__float2bfloat16_rn(x)); }

template <bool ROUND>
__global__ void __launch_bounds__(F32_WARPS * 32)
attention_simt(float *out, const float *qkv, int N, int NH, int hs) {
    __shared__ float sK[F32_BK][128 + 1];
    __shared__ float sV[F32_BK][128 + 1];
    __shared__ float sQ[F32_WARPS][128];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, h = blockIdx.y;
    const int q = blockIdx.x * F32_WARPS + warp;
    const size_t Cl = (size_t)NH * hs, ld = 3 * Cl;
    const float *base = qkv + (size_t)blockIdx.z * N * ld + (size_t)h * hs;
    for (int d = lane; d < hs; d += 32) {
        const float v = q < N ? base[(size_t)q * ld + d] : 0.0f;
        sQ[warp][d] = ROUND ? round_bf16(v) : v;
    }

    const float scale = 1.0f / sqrtf((float)hs);
    float o[F32_MAXD] = {}, m = -INFINITY, l = 0.0f;
    for (int k0 = 0; k0 < N; k0 += F32_BK) {
        __syncthreads();
        for (int i = threadIdx.x; i < F32_BK * hs; i += F32_WARPS * 32) {
            const int r = i / hs, d = i % hs;
            const bool in = k0 + r < N;
            const float k = in ? base[(size_t)(k0 + r) * ld + Cl + d] : 0.0f;
            const float v = in ? base[(size_t)(k0 + r) * ld + 2 * Cl + d] : 0.0f;
            sK[r][d] = ROUND ? round_bf16(k) : k;
            sV[r][d] = ROUND ? round_bf16(v) : v;
        }
        __syncthreads();
        float s = 0.0f;
        for (int d = 0; d < hs; d++) s += sQ[warp][d] * sK[lane][d];
        s = k0 + lane < N ? s * scale : -INFINITY;
        float mx = s;
        for (int off = 16; off > 0; off >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, off));
        const float m_new = fmaxf(m, mx), alpha = expf(m - m_new);
        const float p = expf(s - m_new);
        float ps = p;
        for (int off = 16; off > 0; off >>= 1) ps += __shfl_xor_sync(0xffffffffu, ps, off);
        l = l * alpha + ps;
        m = m_new;
#pragma unroll
        for (int i = 0; i < F32_MAXD; i++) o[i] *= alpha;
        for (int j = 0; j < F32_BK; j++) {
            const float pj = __shfl_sync(0xffffffffu, ROUND ? round_bf16(p) : p, j);
#pragma unroll
            for (int i = 0; i < F32_MAXD; i++) {
                const int d = lane + 32 * i;
                if (d < hs) o[i] += pj * sV[j][d];
            }
        }
    }
    if (q >= N) return;
    float *orow = out + ((size_t)blockIdx.z * N + q) * Cl + (size_t)h * hs;
#pragma unroll
    for (int i = 0; i < F32_MAXD; i++) {
        const int d = lane + 32 * i;
        if (d < hs) orow[d] = o[i] / l;
    }
}

extern "C" cudaError_t cuda_attention(float *out, const float *qkv, int B, int N, int NH, int hs,
                                      int round_bf16, cudaStream_t stream) {
    if (B <= 0 || N <= 0 || NH <= 0) return cudaSuccess;
    const bool mma = round_bf16 && (hs == 64 || hs == 80 || hs == 128);
    if (!mma) {
        if (hs <= 0 || hs > 32 * F32_MAXD) return cudaErrorInvalidValue;
        dim3 grid((N + F32_WARPS - 1) / F32_WARPS, NH, B);
        if (round_bf16) CUDA_LAUNCH(attention_simt<true>, grid, F32_WARPS * 32, stream, out, qkv, N, NH, hs);
        else CUDA_LAUNCH(attention_simt<false>, grid, F32_WARPS * 32, stream, out, qkv, N, NH, hs);
        return cudaGetLastError();
    }
    /* float4 loads of q/k/v rows: the buffer must be 16-byte aligned (cudaMalloc gives 256). */
    if (((uintptr_t)qkv & 15) != 0) return cudaErrorMisalignedAddress;
    dim3 grid((N + MMA_BQ - 1) / MMA_BQ, NH, B);
    switch (hs) {
    case 64: CUDA_LAUNCH(attention_mma<64>, grid, MMA_WARPS * 32, stream, out, qkv, N, NH); break;
    case 80: CUDA_LAUNCH(attention_mma<80>, grid, MMA_WARPS * 32, stream, out, qkv, N, NH); break;
    case 128: CUDA_LAUNCH(attention_mma<128>, grid, MMA_WARPS * 32, stream, out, qkv, N, NH); break;
    }
    return cudaGetLastError();
}
