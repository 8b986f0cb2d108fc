/* The AVX2 resize passes against their scalar reference twins (resize_pil.c): random images of
 * odd and extreme sizes, up- and downscaling, full resizes and crop windows; the bytes must be
 * identical (max abs difference printed). Skipped where the CPU has no AVX2. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/resize_pil.h"
#include "data/resize_pil_kernels.h"
#include "test_main.h"

static uint32_t rng = 12345;
static int rnd(int n) {
    rng = rng * 1664525u + 1013904223u;
    return (int)((rng >> 8) % (unsigned)n);
}

START_TEST(simd_equals_scalar) {
    if (!resize_have_avx2()) {
        printf("no AVX2 on this CPU: only the scalar passes run\n");
        return;
    }
    static const int sizes[][4] = {   /* w, h, W, H */
        {640, 480, 341, 256}, {480, 640, 256, 341}, {1, 1, 7, 5}, {3, 1000, 256, 85333},
        {1000, 3, 85, 1}, {37, 223, 256, 1543}, {2048, 1365, 384, 256}, {300, 300, 300, 256},
        {300, 300, 256, 300}, {9, 9, 9, 9}, {5, 700, 1, 1}, {257, 255, 999, 31}};
    int worst = 0, cases = 0;
    for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
        int w = sizes[t][0], h = sizes[t][1], W = sizes[t][2], H = sizes[t][3];
        uint8_t *src = malloc((size_t)w * h * 3);
        ck_assert_ptr_nonnull(src);
        /* Extremes and noise: saturated edges exercise the clip, noise the sums. */
        for (size_t i = 0; i < (size_t)w * h * 3; i++)
            src[i] = rnd(4) == 0 ? (uint8_t)(rnd(2) * 255) : (uint8_t)rnd(256);
        for (int k = 0; k < 4; k++) {
            int cw = k == 0 ? W : 1 + rnd(W < 300 ? W : 300);
            int ch = k == 0 ? (H < 400 ? H : 400) : 1 + rnd(H < 300 ? H : 300);
            int x0 = rnd(W - cw + 1), y0 = rnd(H - ch + 1);
            size_t n = (size_t)cw * ch * 3;
            uint8_t *a = malloc(n), *b = malloc(n);
            ck_assert_ptr_nonnull(a);
            ck_assert_ptr_nonnull(b);
            resize_pil_use_simd(0);
            ck_assert_int_eq(resize_pil_bicubic_window(src, w, h, W, H, x0, y0, cw, ch, a,
                                                       (size_t)cw * 3), 0);
            resize_pil_use_simd(1);
            ck_assert_int_eq(resize_pil_bicubic_window(src, w, h, W, H, x0, y0, cw, ch, b,
                                                       (size_t)cw * 3), 0);
            int m = 0;
            for (size_t i = 0; i < n; i++) {
                int d = abs(a[i] - b[i]);
                m = d > m ? d : m;
            }
            if (m)
                printf("%dx%d -> %dx%d window %d,%d %dx%d: max abs diff %d\n", w, h, W, H, x0, y0,
                       cw, ch, m);
            worst = m > worst ? m : worst;
            cases++;
            free(a);
            free(b);
        }
        free(src);
    }
    printf("AVX2 vs scalar resize: %d cases, max abs diff %d\n", cases, worst);
    ck_assert_int_eq(worst, 0);
}
END_TEST

int main(void) {
    Suite *s = suite_create("resize_simd");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, simd_equals_scalar);
    suite_add_tcase(s, tc);
    return test_run_suite(s, CK_NORMAL);
}
