/* The pipeline's u8_only mode (data/pipeline.h) against keep_u8 on the same directory of images
 * (BMP files written here, one of them corrupt): the same uint8 crops and statuses, no float
 * buffer, and those uint8 crops normalised (preprocess_normalize) give the keep_u8 run's floats
 * bit for bit (max abs error 0), so a backend that normalises uint8 embeds the same numbers.
 * The hold mode (as embed runs it): each batch kept while the next is taken, its rows untouched
 * until given back, the same crops as without, the buffers from the caller's allocator (all
 * freed), and readiness signalled through a ws_pipeline_notify. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "data/input_spec.h"
#include "data/pipeline.h"
#include "data/preprocess.h"
#include "test_main.h"

static void put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }

/* A w x h 24-bit BMP with a pseudo-random picture. */
static void write_bmp(const char *path, int w, int h, uint32_t seed) {
    const int row = (w * 3 + 3) & ~3;
    uint8_t hdr[54] = {'B', 'M'};
    put32(hdr + 2, 54 + (uint32_t)(row * h));
    put32(hdr + 10, 54);
    put32(hdr + 14, 40);
    put32(hdr + 18, (uint32_t)w);
    put32(hdr + 22, (uint32_t)h);
    hdr[26] = 1, hdr[28] = 24;
    put32(hdr + 34, (uint32_t)(row * h));
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fwrite(hdr, 1, sizeof hdr, f);
    for (int y = 0; y < h; y++) {
        uint8_t line[4096] = {0};
        for (int x = 0; x < w * 3; x++) {
            seed = seed * 1664525u + 1013904223u;
            line[x] = (uint8_t)((x + y * 3) ^ (seed >> 27));
        }
        fwrite(line, 1, (size_t)row, f);
    }
    fclose(f);
}

/* Every batch of the shard: uint8 crops, statuses and (keep_u8) floats, concatenated. */
static size_t run(const ws_shard *sh, int u8_only, uint8_t *u8, int8_t *status, float *px, size_t plane) {
    ws_pipeline_params p;
    pipeline_params_default(&p);
    p.resolution = 32;
    p.pre.resize = 40;
    p.batch = 2;
    p.keep_u8 = !u8_only;
    p.u8_only = u8_only;
    ws_pipeline *pl;
    ck_assert_int_eq(pipeline_open(sh, &p, &pl), WS_OK);
    size_t n = 0;
    for (;;) {
        const ws_batch *b = pipeline_next_batch(pl);
        ck_assert_ptr_nonnull(b);
        if (!b->n) break;
        ck_assert_ptr_nonnull(b->u8);
        if (u8_only) ck_assert_ptr_null(b->pixels);
        else memcpy(px + n * plane, b->pixels, (size_t)b->n * plane * sizeof(float));
        memcpy(u8 + n * plane, b->u8, (size_t)b->n * plane);
        memcpy(status + n, b->status, (size_t)b->n);
        n += (size_t)b->n;
    }
    pipeline_close(pl);
    return n;
}

static int frees;
static void *count_alloc(void *ctx, size_t bytes) { (*(int *)ctx)++; return malloc(bytes); }
static void count_free(void *ctx, void *ptr) { (void)ctx; frees++; free(ptr); }

/* u8_only with params.hold: each batch released only after the next one is taken (and checked
 * unchanged then). Returns the rows; *allocs the buffers allocated, *signals the notify count. */
static size_t run_hold(const ws_shard *sh, uint8_t *u8, int8_t *status, size_t plane, int *allocs,
                       unsigned long *signals) {
    ws_pipeline_params p;
    pipeline_params_default(&p);
    p.resolution = 32;
    p.pre.resize = 40;
    p.batch = 2;
    p.u8_only = 1;
    p.hold = 1;
    p.buf_alloc = count_alloc, p.buf_free = count_free, p.buf_ctx = allocs;
    ws_pipeline_notify nt;
    pipeline_notify_init(&nt);
    p.notify = &nt;
    ws_pipeline *pl;
    ck_assert_int_eq(pipeline_open(sh, &p, &pl), WS_OK);
    size_t n = 0;
    const ws_batch *prev = NULL;
    for (;;) {
        const ws_batch *b = pipeline_next_batch(pl);
        ck_assert_ptr_nonnull(b);
        if (prev) {   /* still the caller's: its rows as they were handed out */
            ck_assert_ptr_ne(prev, b);
            ck_assert_int_eq(memcmp(prev->u8, u8 + (n - (size_t)prev->n) * plane, (size_t)prev->n * plane), 0);
        }
        pipeline_release(pl, prev);
        if (!b->n) break;
        memcpy(u8 + n * plane, b->u8, (size_t)b->n * plane);
        memcpy(status + n, b->status, (size_t)b->n);
        n += (size_t)b->n;
        prev = b;
    }
    *signals = pipeline_notify_seq(&nt);
    pipeline_close(pl);
    pipeline_notify_destroy(&nt);
    return n;
}

START_TEST(test_u8_only) {
    char dir[512], path[600];
    test_tmpdir_create(dir, sizeof dir, "pipeline_u8");
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/img%d.bmp", dir, i);
        write_bmp(path, 50 + 7 * i, 45 + 3 * i, 17u * (uint32_t)i + 1u);
    }
    snprintf(path, sizeof path, "%s/img9.bmp", dir);
    FILE *f = fopen(path, "wb");
    fputs("BM not really a bitmap", f);
    fclose(f);
    ws_shard_list list;
    ck_assert_int_eq(input_spec_expand(dir, 100, &list), WS_OK);
    ck_assert_int_eq((int)list.count, 1);
    enum { N = 5, PLANE = 32 * 32 * 3 };
    static uint8_t u8a[N * PLANE], u8b[N * PLANE];
    static int8_t sa[N], sb[N];
    static float pa[N * PLANE], pb[N * PLANE];
    ck_assert_int_eq((int)run(&list.shards[0], 0, u8a, sa, pa, PLANE), N);
    ck_assert_int_eq((int)run(&list.shards[0], 1, u8b, sb, NULL, PLANE), N);
    ck_assert_int_eq(memcmp(sa, sb, N), 0);
    ck_assert_int_ne(sa[N - 1], 0);   /* the corrupt file */
    ck_assert_int_eq(memcmp(u8a, u8b, sizeof u8a), 0);
    ws_preprocess pre;
    ws_pipeline_params d;
    pipeline_params_default(&d);
    pre = d.pre;
    size_t bad = 0;
    double max_abs = 0;
    for (int i = 0; i < N; i++) {
        if (sa[i]) continue;
        preprocess_normalize(u8b + (size_t)i * PLANE, 32, pre.mean, pre.std, pb + (size_t)i * PLANE);
        for (size_t k = 0; k < PLANE; k++) {
            const float x = pa[(size_t)i * PLANE + k], y = pb[(size_t)i * PLANE + k];
            bad += memcmp(&x, &y, sizeof x) != 0;
            max_abs = fabs((double)x - y) > max_abs ? fabs((double)x - y) : max_abs;
        }
    }
    printf("u8_only crops normalised vs keep_u8 floats: max abs err %.3e, %zu values differ in their bits\n",
           max_abs, bad);
    ck_assert_int_eq((int)bad, 0);
    static uint8_t u8c[N * PLANE];
    static int8_t sc[N];
    int allocs = 0;
    unsigned long signals = 0;
    ck_assert_int_eq((int)run_hold(&list.shards[0], u8c, sc, PLANE, &allocs, &signals), N);
    printf("hold: %d buffers allocated, %d freed, %lu ready signals\n", allocs, frees, signals);
    ck_assert_int_eq(memcmp(sb, sc, N), 0);
    ck_assert_int_eq(memcmp(u8b, u8c, sizeof u8b), 0);
    ck_assert_int_eq(allocs, 3);   /* depth 2, one more slot held: one u8 buffer each */
    ck_assert_int_eq(frees, allocs);
    ck_assert_uint_ge(signals, 3);
    shard_list_free(&list);
    test_tmpdir_remove(dir);
}
END_TEST

int main(void) {
    Suite *s = suite_create("pipeline_u8");
    TCase *tc = tcase_create("u8_only");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_u8_only);
    suite_add_tcase(s, tc);
    return test_run_suite(s, CK_VERBOSE);
}
