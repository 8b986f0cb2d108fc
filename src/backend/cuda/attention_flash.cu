/* CUDA attention core of the FlashAttention-2 class: scores are computed a tile of keys at a time
 * with an online softmax (running row max and sum, the output rescaled when the max grows), so no
 * N x N matrix is ever stored. Two kernels behind cuda_attention():
 *
 * attention_mma (head sizes 64, 80, 128 with bf16 rounding: dt bf16, or dt f32 with round_bf16):
 *   8 warps per block, each owning 16 query rows of one (image, head): 128-row query tiles. Keys
 *   and values in tiles of 64 rows, double-buffered in dynamic shared memory: two stages of a K
 *   and a V tile, each row padded by 8 bf16 so that ldmatrix row addresses stay 16-byte aligned
 *   and spread over the banks (36 KB at hs 64, 44 KB at hs 80, 68 KB at hs 128). bf16 q, k, v
 *   are read straight from the QKV GEMM output by cp.async (16 bytes a copy, rows past N
 *   zero-filled by the src-size form); tile j + 1 is in flight while tile j is computed. The
 *   Q tile passes through the second stage once, before key tile 1 is copied there. Both
 *   products use mma.sync.m16n8k16 (bf16 in, f32 accumulate) with the fragment layouts of the
 *   PTX ISA; fragments come from shared memory through ldmatrix (.trans for V), and the score
 *   accumulators of Q K^T are, element for element, the A fragments of P V, so the probabilities
 *   never leave registers. Scores, softmax, sums and the output accumulate in f32; the output is
 *   rounded once to the output dtype. With f32 activations, q, k, v are rounded to bf16 by plain
 *   loads instead of cp.async. FLOPs: 4 * N^2 * hs per (image, head).
 * attention_simt (exact f32, and bf16 rounding at other head sizes up to 128): one warp per query
 *   row, 16 rows per block, keys in chunks of 32 (one per lane) staged in shared memory as f32;
 *   CUDA cores only. With ROUND it rounds q, k, v and the probabilities to bf16 like the mma
 *   kernel. */
#include "backend/cuda/cuda_kernels.h"
#include "backend/cuda/cuda_ptx.h"

#include <cuda_bf16.h>
#include <math.h>

typedef __nv_bfloat16 bf16;

enum { MMA_WARPS = 8, MMA_THREADS = 32 * MMA_WARPS, MMA_BQ = 16 * MMA_WARPS, MMA_BK = 64, MMA_PAD = 8 };
static_assert(MMA_BQ == 2 * MMA_BK, "the Q tile passes through one stage (a K and a V tile)");

/* Dynamic shared memory of attention_mma<HS>: two stages of a K and a V tile. */
template <int HS>
static constexpr int mma_smem_bytes() {
    return 2 * 2 * MMA_BK * (HS + MMA_PAD) * (int)sizeof(bf16);
}

static __device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<uint32_t *>(&v);
}

/* Rows [r0, r0 + rows) of one head's q, k or v (row stride ld elements) into shared memory as
 * bf16, rows past N as zeros. bf16 rows by cp.async (the caller commits the group); f32 rows
 * rounded to bf16 by plain loads and stores. */
template <int HS>
static __device__ void load_rows(bf16 (*dst)[HS + MMA_PAD], const bf16 *src, size_t ld, int r0, int rows, int N) {
    constexpr int C8 = HS / 8;
    for (int i = threadIdx.x; i < rows * C8; i += MMA_THREADS) {
        const int r = i / C8, c = (i % C8) * 8;
        const bool in = r0 + r < N;
        ptx_cp_async_16(&dst[r][c], src + (size_t)(in ? r0 + r : 0) * ld + c, in ? 16 : 0);
    }
}

template <int HS>
static __device__ void load_rows(bf16 (*dst)[HS + MMA_PAD], const float *src, size_t ld, int r0, int rows, int N) {
    constexpr int C4 = HS / 4;
    for (int i = threadIdx.x; i < rows * C4; i += MMA_THREADS) {
        const int r = i / C4, c = (i % C4) * 4;
        float4 v = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        if (r0 + r < N) v = *reinterpret_cast<const float4 *>(src + (size_t)(r0 + r) * ld + c);
        *reinterpret_cast<uint2 *>(&dst[r][c]) = make_uint2(pack_bf16(v.x, v.y), pack_bf16(v.z, v.w));
    }
}

static __device__ __forceinline__ void store_pair(bf16 *p, float a, float b) {
    *reinterpret_cast<uint32_t *>(p) = pack_bf16(a, b);
}
static __device__ __forceinline__ void store_pair(float *p, float a, float b) {
    *reinterpret_cast<float2 *>(p) = make_float2(a, b);
}

template <int HS, typename T>
__global__ void __launch_bounds__(MMA_THREADS)
attention_mma(T *out, const T *qkv, int N, int NH) {
    constexpr int KS = HS / 16;      /* k-steps over the head dimension */
    constexpr int DT = HS / 8;       /* n-tiles of the output */
    constexpr int ST = MMA_BK / 8;   /* n-tiles of the scores */
    typedef bf16 row_t[HS + MMA_PAD];
    CUDA_DYNAMIC_SHARED(smem_bytes);
    /* Stage s: the K tile in rows [2s BK, 2s BK + BK), the V tile in the next BK rows. */
    row_t *const smem = reinterpret_cast<row_t *>(smem_bytes);

    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane >> 2, t = lane & 3;
    /* ldmatrix.x4 row addresses: lane l points at row l % 8 of matrix l / 8, matrices 0-3 being
     * (rows +0, cols +0), (rows +8, cols +0), (rows +0, cols +8), (rows +8, cols +8) of a 16x16
     * tile: the A fragment order (a0a1, a2a3, a4a5, a6a7), and for B^T rows the fragments
     * b0b1, b2b3 of two neighbouring 8-column tiles when rows and columns are exchanged. */
    const int lr = (lane & 7) + ((lane >> 3) & 1) * 8, lc = (lane >> 4) * 8;
    const int q0 = blockIdx.x * MMA_BQ, h = blockIdx.y, tiles = (N + MMA_BK - 1) / MMA_BK;
    const size_t Cl = (size_t)NH * HS, ld = 3 * Cl;
    const T *qb = qkv + (size_t)blockIdx.z * N * ld + (size_t)h * HS, *kb = qb + Cl, *vb = kb + Cl;

    /* Group 0: the Q tile into stage 1; group 1: K/V tile 0 into stage 0. */
    load_rows<HS>(smem + 2 * MMA_BK, qb, ld, q0, MMA_BQ, N);
    ptx_cp_async_commit();
    load_rows<HS>(smem, kb, ld, 0, MMA_BK, N);
    load_rows<HS>(smem + MMA_BK, vb, ld, 0, MMA_BK, N);
    ptx_cp_async_commit();
    ptx_cp_async_wait_group<1>();   /* this thread's Q copies landed */
    __syncthreads();                /* and every thread's */
    uint32_t qa[KS][4];
#pragma unroll
    for (int kk = 0; kk < KS; kk++) ptx_ldmatrix_x4(qa[kk], &smem[2 * MMA_BK + warp * 16 + lr][kk * 16 + lc]);
    __syncthreads();   /* Q is in every warp's registers: stage 1 may take tile 1 */

    const bool active = q0 + warp * 16 < N;   /* a warp whose rows all lie past N only loads */
    const float scale_log2 = 1.4426950408889634f / sqrtf((float)HS);
    float o[DT][4] = {};
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};   /* rows g and g + 8 */

    for (int j = 0; j < tiles; j++) {
        const int k0 = j * MMA_BK;
        if (j + 1 < tiles) {   /* tile j + 1 into the other stage, in flight while tile j is computed */
            row_t *const next = smem + ((j + 1) & 1) * 2 * MMA_BK;
            load_rows<HS>(next, kb, ld, k0 + MMA_BK, MMA_BK, N);
            load_rows<HS>(next + MMA_BK, vb, ld, k0 + MMA_BK, MMA_BK, N);
        }
        ptx_cp_async_commit();          /* one group a tile (empty after the last): the depth stays 1 */
        ptx_cp_async_wait_group<1>();   /* this thread's copies of tile j landed */
        __syncthreads();                /* every thread's copies of tile j landed */
        const row_t *const sK = smem + (j & 1) * 2 * MMA_BK, *const sV = sK + MMA_BK;
        if (active) {
            /* S = Q K^T: B = K^T, so K's rows (keys) give B fragments untransposed; one
             * ldmatrix.x4 gives b0b1 of key tiles 2np and 2np + 1 (matrices (keys +0, dims +0),
             * (+0, +8), (+8, +0), (+8, +8)). */
            float s[ST][4] = {};
#pragma unroll
            for (int kk = 0; kk < KS; kk++)
#pragma unroll
                for (int np = 0; np < ST / 2; np++) {
                    uint32_t kf[4];
                    ptx_ldmatrix_x4(kf, &sK[np * 16 + (lane >> 4) * 8 + (lane & 7)][kk * 16 + ((lane >> 3) & 1) * 8]);
                    ptx_mma_bf16_16816(s[2 * np], qa[kk], kf[0], kf[1]);
                    ptx_mma_bf16_16816(s[2 * np + 1], qa[kk], kf[2], kf[3]);
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
            /* O += P V: keys in k-steps of 16; the score tiles 2i and 2i+1 form P's A fragment. */
#pragma unroll
            for (int i = 0; i < MMA_BK / 16; i++) {
                const uint32_t pa[4] = {pack_bf16(s[2 * i][0], s[2 * i][1]), pack_bf16(s[2 * i][2], s[2 * i][3]),
                                        pack_bf16(s[2 * i + 1][0], s[2 * i + 1][1]),
                                        pack_bf16(s[2 * i + 1][2], s[2 * i + 1][3])};
                /* B = V (keys x dims, row-major): ldmatrix.trans of (keys +0, dims +0), (+8, +0),
                 * (+0, +8), (+8, +8) gives b0b1 of output tiles 2dp and 2dp + 1. */
#pragma unroll
                for (int dp = 0; dp < DT / 2; dp++) {
                    uint32_t vf[4];
                    ptx_ldmatrix_x4_trans(vf, &sV[i * 16 + lr][dp * 16 + lc]);
                    ptx_mma_bf16_16816(o[2 * dp], pa, vf[0], vf[1]);
                    ptx_mma_bf16_16816(o[2 * dp + 1], pa, vf[2], vf[3]);
                }
            }
        }
        __syncthreads();   /* every warp is done with this stage before tile j + 2 is copied into it */
    }

#pragma unroll
    for (int r = 0; r < 2; r++) {
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
    }
    T *const ob = out + (size_t)blockIdx.z * N * Cl + (size_t)h * HS;
#pragma unroll
    for (int r = 0; r < 2; r++) {
        const int q = q0 + warp * 16 + g + r * 8;
        if (q >= N) continue;
        const float inv = 1.0f / l[r];
#pragma unroll
        for (int dt = 0; dt < DT; dt++) store_pair(ob + (size_t)q * Cl + dt * 8 + t * 2, o[dt][2 * r] * inv, o[dt][2 * r + 1] * inv);
    }
}

enum { F32_WARPS = 16, F32_BK = 32, F32_MAXD = 4 };   /* F32_MAXD * 32 = largest head size */

static __device__ __forceinline__ float round_bf16(float x) { return __bfloat162float(__float2bfloat16_rn(x)); }
static __device__ __forceinline__ float to_f32(float x) { return x; }
static __device__ __forceinline__ float to_f32(bf16 x) { return __bfloat162float(x); }
static __device__ __forceinline__ void store_f32(float *p, float x) { *p = x; }
static __device__ __forceinline__ void store_f32(bf16 *p, float x) { *p = __float2bfloat16_rn(x); }

template <typename T, bool ROUND>
__global__ void __launch_bounds__(F32_WARPS * 32)
attention_simt(T *out, const T *qkv, int N, int NH, int hs) {
    __shared__ float sK[F32_BK][128 + 1];
    __shared__ float sV[F32_BK][128 + 1];
    __shared__ float sQ[F32_WARPS][128];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, h = blockIdx.y;
    const int q = blockIdx.x * F32_WARPS + warp;
    const size_t Cl = (size_t)NH * hs, ld = 3 * Cl;
    const T *base = qkv + (size_t)blockIdx.z * N * ld + (size_t)h * hs;
    for (int d = lane; d < hs; d += 32) {
        const float v = q < N ? to_f32(base[(size_t)q * ld + d]) : 0.0f;
        sQ[warp][d] = ROUND ? round_bf16(v) : v;
    }

    const float scale = 1.0f / sqrtf((float)hs);
    float o[F32_MAXD] = {}, m = -INFINITY, l = 0.0f;
    for (int k0 = 0; k0 < N; k0 += F32_BK) {
        __syncthreads();
        for (int i = threadIdx.x; i < F32_BK * hs; i += F32_WARPS * 32) {
            const int r = i / hs, d = i % hs;
            const bool in = k0 + r < N;
            const float k = in ? to_f32(base[(size_t)(k0 + r) * ld + Cl + d]) : 0.0f;
            const float v = in ? to_f32(base[(size_t)(k0 + r) * ld + 2 * Cl + d]) : 0.0f;
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
    T *orow = out + ((size_t)blockIdx.z * N + q) * Cl + (size_t)h * hs;
#pragma unroll
    for (int i = 0; i < F32_MAXD; i++) {
        const int d = lane + 32 * i;
        if (d < hs) store_f32(orow + d, o[i] / l);
    }
}

template <int HS, typename T>
static cudaError_t launch_mma(T *out, const T *qkv, int B, int N, int NH, cudaStream_t stream) {
    void (*const kernel)(T *, const T *, int, int) = attention_mma<HS, T>;
    const int smem = mma_smem_bytes<HS>();
    if (smem > 48 << 10) {
        const cudaError_t e = cudaFuncSetAttribute(reinterpret_cast<const void *>(kernel),
                                                   cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
        if (e != cudaSuccess) return e;
    }
    dim3 grid((N + MMA_BQ - 1) / MMA_BQ, NH, B);
    CUDA_LAUNCH_SMEM(kernel, grid, MMA_THREADS, smem, stream, out, qkv, N, NH);
    return cudaGetLastError();
}

template <typename T>
static cudaError_t launch(T *out, const T *qkv, int B, int N, int NH, int hs, bool round, cudaStream_t stream) {
    if (round && (hs == 64 || hs == 80 || hs == 128)) {
        /* 16-byte copies of q, k, v rows: the buffer must be 16-byte aligned (cudaMalloc gives 256). */
        if (((uintptr_t)qkv & 15) != 0) return cudaErrorMisalignedAddress;
        if (hs == 64) return launch_mma<64>(out, qkv, B, N, NH, stream);
        if (hs == 80) return launch_mma<80>(out, qkv, B, N, NH, stream);
        return launch_mma<128>(out, qkv, B, N, NH, stream);
    }
    if (hs <= 0 || hs > 32 * F32_MAXD) return cudaErrorInvalidValue;
    void (*const kernel)(T *, const T *, int, int, int) = round ? attention_simt<T, true> : attention_simt<T, false>;
    dim3 grid((N + F32_WARPS - 1) / F32_WARPS, NH, B);
    CUDA_LAUNCH(kernel, grid, F32_WARPS * 32, stream, out, qkv, N, NH, hs);
    return cudaGetLastError();
}

extern "C" cudaError_t cuda_attention(void *out, const void *qkv, ws_dtype dt, int B, int N, int NH, int hs,
                                      int round_bf16, cudaStream_t stream) {
    if (B <= 0 || N <= 0 || NH <= 0) return cudaSuccess;
    if (dt == WS_DTYPE_BF16)
        return launch(static_cast<bf16 *>(out), static_cast<const bf16 *>(qkv), B, N, NH, hs, true, stream);
    if (dt == WS_DTYPE_F32)
        return launch(static_cast<float *>(out), static_cast<const float *>(qkv), B, N, NH, hs, round_bf16 != 0,
                      stream);
    return cudaErrorInvalidValue;
}
