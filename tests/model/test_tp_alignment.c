/* Per-rank GEMM shapes and weight layout of every published model at tp 1..8 (up to its head
 * count), on every rank: each GEMM's M-independent dimensions (N, K, hence every leading
 * dimension) are multiples of 8 elements and every weight field, bias vectors included, starts
 * 256-byte aligned in the rank's one allocation, the alignment cuBLASLt's fast bf16 kernels need
 * (model/weights.h, WS_TP_WIDTH_UNIT and WS_FIELD_ALIGN). The ranks' slices also tile the heads
 * and FFN columns exactly. CPU only. */
#include <check.h>
#include <string.h>

#include "common/error.h"
#include "common/arch.h"
#include "model/weights.h"
#include "test_main.h"

static void check_rank(const ws_arch *a, int tp, int r, int *head_next, int *ffn_next) {
    ws_tp_slice s;
    ck_assert_int_eq(weights_tp_slice(a, r, tp, &s), WS_OK);
    ck_assert_msg(s.head0 == *head_next && s.ffn0 == *ffn_next, "%s tp %d rank %d: slices do not tile", a->name,
                  tp, r);
    *head_next += s.NHl;
    *ffn_next += s.Hl;
    const int hs = a->embed_dim / a->num_heads, C = a->embed_dim;
    const int Fg = weights_field_groups(a, WS_W_FC1_W);
    /* (name, N, K) of the four per-block GEMMs out[M,N] = in[M,K] . w[N,K]^T on this rank. */
    const struct {
        const char *gemm;
        int N, K;
    } g[] = {
        {"qkv", 3 * s.NHl * hs, C},
        {"proj", C, s.NHl * hs},
        {"fc1/w12", Fg * s.Hl, C},
        {"fc2/w3", C, s.Hl},
    };
    for (int i = 0; i < 4; i++)
        ck_assert_msg(g[i].N % WS_TP_WIDTH_UNIT == 0 && g[i].K % WS_TP_WIDTH_UNIT == 0,
                      "%s tp %d rank %d: %s GEMM N=%d K=%d not multiples of %d", a->name, tp, r, g[i].gemm, g[i].N,
                      g[i].K, WS_TP_WIDTH_UNIT);
    for (int dt = 0; dt < 2; dt++) {
        const ws_dtype wdt = dt ? WS_DTYPE_BF16 : WS_DTYPE_F32;
        size_t bytes[WS_W_COUNT], off = 0;
        weights_sizes(a, &s, wdt, bytes);
        for (int f = 0; f < WS_W_COUNT; f++) {
            ck_assert_msg(off % WS_FIELD_ALIGN == 0, "%s tp %d rank %d %s: field %s at offset %zu", a->name, tp, r,
                          ws_dtype_name(wdt), weights_field_info((ws_field)f)->name, off);
            off += bytes[f];
        }
    }
}

START_TEST(test_published_models) {
    int checked = 0;
    for (size_t i = 0; i < arch_builtin_count(); i++) {
        const ws_arch *a = arch_builtin_at(i);
        if (strncmp(a->name, "webssl-", 7) != 0) continue;   /* tiny test shapes */
        for (int tp = 1; tp <= 8 && tp <= a->num_heads; tp++) {
            int head_next = 0, ffn_next = 0;
            for (int r = 0; r < tp; r++) check_rank(a, tp, r, &head_next, &ffn_next);
            ck_assert_int_eq(head_next, a->num_heads);
            ck_assert_int_eq(ffn_next, a->ffn_hidden);
            checked++;
        }
        ws_tp_slice s;   /* the case that was odd before: 7B FFN over 3 ranks */
        if (a->ffn_hidden == 10928) {
            ck_assert_int_eq(weights_tp_slice(a, 0, 3, &s), WS_OK);
            ck_assert_int_eq(s.Hl, 3648);
        }
    }
    printf("tp alignment: %d (model, tp) pairs checked, every rank\n", checked);
    ck_assert_int_ge(checked, 8 * 15);
}
END_TEST

START_TEST(test_small_ffn_falls_back) {
    /* An FFN too narrow for one unit of 8 per rank still splits (by single columns). */
    ws_arch a = *arch_builtin_at(0);
    a.ffn_hidden = 20;
    a.num_heads = 16;
    int next = 0;
    for (int r = 0; r < 4; r++) {
        ws_tp_slice s;
        ck_assert_int_eq(weights_tp_slice(&a, r, 4, &s), WS_OK);
        ck_assert_int_eq(s.ffn0, next);
        ck_assert_int_eq(s.Hl, 5);
        next += s.Hl;
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("tp_alignment");
    TCase *tc = tcase_create("layout");
    tcase_add_test(tc, test_published_models);
    tcase_add_test(tc, test_small_ffn_falls_back);
    suite_add_tcase(s, tc);
    return test_run_suite(s, CK_VERBOSE);
}
