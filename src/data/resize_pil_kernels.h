/* Internal to the Pillow-exact resize: the coefficient tables and the AVX2 twins of the two
 * fixed-point passes (resize_pil_avx2.c). The twins do the same integer arithmetic as the scalar
 * passes in resize_pil.c (int32 products and sums, same rounding constant, arithmetic shift,
 * clip to 0..255), so their bytes are identical; tests/data/test_resize_simd.c checks that. */
#ifndef WEBSSL_DATA_RESIZE_PIL_KERNELS_H
#define WEBSSL_DATA_RESIZE_PIL_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#define RESIZE_PRECISION_BITS (32 - 8 - 2)

typedef struct {
    int ksize;      /* coefficients per output sample */
    int *bounds;    /* [count, 2]: first input index, number of inputs */
    int32_t *k;     /* [count, ksize] fixed-point coefficients */
} resize_coeffs;

/* 1 when this CPU runs the AVX2 passes (always 0 on other architectures). */
int resize_have_avx2(void);

/* Horizontal pass: rows [y0, y0 + rows) of src (width w, data ending at src_end) into `rows` rows
 * of dst (`dst_stride` apart), one RGB pixel per coefficient set (cw sets).
 * Returns 0, or -1 when out of memory (nothing written then). */
int resize_h_avx2(const uint8_t *src, const uint8_t *src_end, int w, int y0, int rows,
                  uint8_t *dst, size_t dst_stride, int cw, const resize_coeffs *c);

/* Vertical pass: output row i (`ch` rows, `dst_stride` apart, `row` bytes each) from the rows of
 * src (`src_stride` apart, first one is source row ybase) named by coefficient set i. */
void resize_v_avx2(const uint8_t *src, size_t src_stride, size_t row, int ybase, uint8_t *dst,
                   size_t dst_stride, int ch, const resize_coeffs *c);

#endif
