/* AVX2 twins of the Pillow-exact resize passes (contract in resize_pil_kernels.h), compiled for
 * AVX2 through function attributes and chosen at run time, so the program still runs anywhere.
 * Both keep Pillow's int32 fixed-point sums (exact integer products of uint8 samples and 22-bit
 * coefficients, int32 accumulation, the same rounding constant and shift, saturating packs as
 * the clip to 0..255). */
#include <stdlib.h>
#include <string.h>

#include "data/resize_pil_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2")))

int resize_have_avx2(void) { return __builtin_cpu_supports("avx2"); }

/* Scalar pixel of the horizontal pass, for the last pixels of the buffer, where the vector
 * loads would read past its end. */
static void h_pixel_scalar(const uint8_t *p, const int32_t *k, int n, uint8_t *o) {
    int32_t s[3] = {1 << (RESIZE_PRECISION_BITS - 1), 1 << (RESIZE_PRECISION_BITS - 1),
                    1 << (RESIZE_PRECISION_BITS - 1)};
    for (int x = 0; x < n; x++)
        for (int c = 0; c < 3; c++) s[c] += p[3 * x + c] * k[x];
    for (int c = 0; c < 3; c++) {
        int32_t v = s[c] >> RESIZE_PRECISION_BITS;
        o[c] = v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
    }
}

static inline AVX2 __m256i load256(const int16_t *k) {
    return _mm256_loadu_si256((const __m256i *)k);
}

/* (hi << 11) + lo summed over both 128-bit halves, rounded and shifted: R G B 0 as int32. */
static inline AVX2 __m128i h_finish(__m256i hi, __m256i lo) {
    __m128i sh = _mm_add_epi32(_mm256_castsi256_si128(hi), _mm256_extracti128_si256(hi, 1));
    __m128i sl = _mm_add_epi32(_mm256_castsi256_si128(lo), _mm256_extracti128_si256(lo, 1));
    __m128i s = _mm_add_epi32(_mm_add_epi32(_mm_slli_epi32(sh, 11), sl),
                              _mm_set1_epi32(1 << (RESIZE_PRECISION_BITS - 1)));
    return _mm_srai_epi32(s, RESIZE_PRECISION_BITS);
}

/* Four taps per step with 16-bit multiply-adds: each coefficient is split exactly as
 * k = kh * 2^11 + kl (kh = k >> 11 signed, kl = k & 2047), so sum(p * k) =
 * (sum(p * kh) << 11) + sum(p * kl), the same int32 value, with every product and pair sum small
 * enough for vpmaddwd. 16 source bytes (pixels x .. x + 3, plus 4 unused) are spread to int16
 * (R0 R1 G0 G1 B0 B1 0 0 | R2 R3 G2 G3 B2 B3 0 0) against (k0 k1 k0 k1 k0 k1 0 0 | k2 k3 ...).
 * Tap counts are padded to a multiple of 4 with zero coefficients, so a step may read up to 3
 * pixels past the window (never past `src_end`; the last pixels of the buffer go scalar). */
AVX2 int resize_h_avx2(const uint8_t *src, const uint8_t *src_end, int w, int y0, int rows,
                       uint8_t *dst, size_t dst_stride, int cw, const resize_coeffs *c) {
    int kq = (c->ksize + 3) / 4;
    int16_t *kx = calloc((size_t)cw * kq * 32, sizeof *kx);   /* [cw, kq, hi/lo, 16] */
    if (!kx) return -1;
    for (int xx = 0; xx < cw; xx++)
        for (int x = 0; x < c->bounds[2 * xx + 1]; x++) {
            int32_t k = c->k[(size_t)xx * c->ksize + x];
            int16_t *q = kx + ((size_t)xx * kq + x / 4) * 32 + ((x & 2) ? 8 : 0) + (x & 1);
            for (int l = 0; l < 3; l++) {
                q[2 * l] = (int16_t)(k >> 11);          /* arithmetic shift: floor */
                q[16 + 2 * l] = (int16_t)(k & 2047);
            }
        }
    const __m128i spread = _mm_setr_epi8(0, 3, 1, 4, 2, 5, -1, -1, 6, 9, 7, 10, 8, 11, -1, -1);
    const __m128i pick6 = _mm_setr_epi8(0, 1, 2, 4, 5, 6, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    for (int y = 0; y < rows; y++) {
        const uint8_t *in = src + (size_t)(y0 + y) * w * 3;
        uint8_t *o = dst + (size_t)y * dst_stride;
        /* Two output pixels per step: independent accumulators, one shared pack and store. */
        int xx = 0;
        for (; xx + 1 < cw; xx += 2) {
            const int *bd = c->bounds + 2 * xx;
            int na = (bd[1] + 3) / 4, nb = (bd[3] + 3) / 4, nq = na > nb ? na : nb;
            const uint8_t *pa = in + (size_t)bd[0] * 3, *pb = in + (size_t)bd[2] * 3;
            if (pb + (size_t)nq * 12 + 4 > src_end || pa + (size_t)nq * 12 + 4 > src_end) break;
            const int16_t *ka = kx + (size_t)xx * kq * 32, *kb = ka + (size_t)kq * 32;
            __m256i ha = _mm256_setzero_si256(), la = ha, hb = ha, lb = ha;
            for (int j = 0; j < nq; j++) {   /* past a pixel's own taps its coefficients are 0 */
                __m256i va = _mm256_cvtepu8_epi16(
                    _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(pa + 12 * j)), spread));
                __m256i vb = _mm256_cvtepu8_epi16(
                    _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(pb + 12 * j)), spread));
                ha = _mm256_add_epi32(ha, _mm256_madd_epi16(va, load256(ka + 32 * j)));
                la = _mm256_add_epi32(la, _mm256_madd_epi16(va, load256(ka + 32 * j + 16)));
                hb = _mm256_add_epi32(hb, _mm256_madd_epi16(vb, load256(kb + 32 * j)));
                lb = _mm256_add_epi32(lb, _mm256_madd_epi16(vb, load256(kb + 32 * j + 16)));
            }
            __m128i s = _mm_packs_epi32(h_finish(ha, la), h_finish(hb, lb));
            s = _mm_shuffle_epi8(_mm_packus_epi16(s, s), pick6);
            uint64_t px = (uint64_t)_mm_cvtsi128_si64(s);
            memcpy(o + 3 * xx, &px, 6);
        }
        for (; xx < cw; xx++) {
            int xmin = c->bounds[2 * xx], n = c->bounds[2 * xx + 1], nq = (n + 3) / 4;
            const uint8_t *p = in + (size_t)xmin * 3;
            if (p + (size_t)nq * 12 + 4 > src_end) {
                h_pixel_scalar(p, c->k + (size_t)xx * c->ksize, n, o + 3 * xx);
                continue;
            }
            const int16_t *k = kx + (size_t)xx * kq * 32;
            __m256i hi = _mm256_setzero_si256(), lo = _mm256_setzero_si256();
            for (int j = 0; j < nq; j++) {
                __m256i v = _mm256_cvtepu8_epi16(
                    _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 12 * j)), spread));
                hi = _mm256_add_epi32(hi, _mm256_madd_epi16(v, load256(k + 32 * j)));
                lo = _mm256_add_epi32(lo, _mm256_madd_epi16(v, load256(k + 32 * j + 16)));
            }
            __m128i s = _mm_packs_epi32(h_finish(hi, lo), _mm_setzero_si128());
            s = _mm_packus_epi16(s, s);
            uint32_t px = (uint32_t)_mm_cvtsi128_si32(s);
            memcpy(o + 3 * xx, &px, 3);
        }
    }
    free(kx);
    return 0;
}

/* 32 output bytes at a time held in four int32 accumulators across all taps; the tail of a row
 * (under 32 bytes) in the scalar form. */
AVX2 void resize_v_avx2(const uint8_t *src, size_t src_stride, size_t row, int ybase,
                        uint8_t *dst, size_t dst_stride, int ch, const resize_coeffs *c) {
    const __m256i half = _mm256_set1_epi32(1 << (RESIZE_PRECISION_BITS - 1));
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (int yy = 0; yy < ch; yy++) {
        const uint8_t *base = src + (size_t)(c->bounds[2 * yy] - ybase) * src_stride;
        int n = c->bounds[2 * yy + 1];
        const int32_t *k = c->k + (size_t)yy * c->ksize;
        uint8_t *o = dst + (size_t)yy * dst_stride;
        size_t i = 0;
        for (; i + 32 <= row; i += 32) {
            __m256i a0 = half, a1 = half, a2 = half, a3 = half;
            for (int y = 0; y < n; y++) {
                const uint8_t *in = base + (size_t)y * src_stride + i;
                __m256i ky = _mm256_set1_epi32(k[y]);
                __m256i b = _mm256_loadu_si256((const __m256i *)in);
                __m128i lo = _mm256_castsi256_si128(b), hi = _mm256_extracti128_si256(b, 1);
                a0 = _mm256_add_epi32(a0, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(lo), ky));
                __m128i lo8 = _mm_srli_si128(lo, 8), hi8 = _mm_srli_si128(hi, 8);
                a1 = _mm256_add_epi32(a1, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(lo8), ky));
                a2 = _mm256_add_epi32(a2, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(hi), ky));
                a3 = _mm256_add_epi32(a3, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(hi8), ky));
            }
            a0 = _mm256_srai_epi32(a0, RESIZE_PRECISION_BITS);
            a1 = _mm256_srai_epi32(a1, RESIZE_PRECISION_BITS);
            a2 = _mm256_srai_epi32(a2, RESIZE_PRECISION_BITS);
            a3 = _mm256_srai_epi32(a3, RESIZE_PRECISION_BITS);
            __m256i u = _mm256_packus_epi16(_mm256_packs_epi32(a0, a1), _mm256_packs_epi32(a2, a3));
            _mm256_storeu_si256((__m256i *)(o + i), _mm256_permutevar8x32_epi32(u, order));
        }
        for (; i < row; i++) {
            int32_t s = 1 << (RESIZE_PRECISION_BITS - 1);
            for (int y = 0; y < n; y++) s += base[(size_t)y * src_stride + i] * k[y];
            s >>= RESIZE_PRECISION_BITS;
            o[i] = s < 0 ? 0 : s > 255 ? 255 : (uint8_t)s;
        }
    }
}

#else

int resize_have_avx2(void) { return 0; }

int resize_h_avx2(const uint8_t *src, const uint8_t *src_end, int w, int y0, int rows,
                  uint8_t *dst, size_t dst_stride, int cw, const resize_coeffs *c) {
    return -1;
}

void resize_v_avx2(const uint8_t *src, size_t src_stride, size_t row, int ybase, uint8_t *dst,
                   size_t dst_stride, int ch, const resize_coeffs *c) {}

#endif
