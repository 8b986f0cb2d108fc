/* Cost model unit test (model/cost_model.h) against figures it does not compute itself:
 *   - parameter counts: the model's per-rank weight table (model/weights.h) at tp 1 against
 *     arch_param_count and the published DINO counts (the Web-SSL model cards: 303.7M ... 6.455B);
 *   - FLOPs: ViT-L/16 (webssl-mae300m) against the published 61.6 GMACs of the ViT paper / timm
 *     (2 FLOPs per multiply-add), and per-rank shares summing to the whole at every tp;
 *   - all-reduce bytes: 2 all-reduces per block of B*N*C f32 elements;
 *   - --tp auto: the smallest fitting tp, its reason, and a clear error when nothing fits.
 * Prints the relative error of each published figure. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "common/arch.h"
#include "model/cost_model.h"
#include "test_main.h"

#define GIB (1024.0 * 1024.0 * 1024.0)

START_TEST(test_params_match_arch) {
    for (size_t i = 0; i < arch_builtin_count(); i++) {
        const ws_arch *a = arch_builtin_at(i);
        ws_cost c;
        ck_assert_int_eq(cost_compute(a, 0, 1, 1, WS_DTYPE_F32, &c), WS_OK);
        /* The DINO mask token is checkpointed but unused at inference: not held by a rank. */
        int64_t mask = a->family == WS_FAMILY_DINO ? a->embed_dim : 0;
        ck_assert_msg(c.params_rank + mask == arch_param_count(a), "%s: %lld + %lld != %lld", a->name,
                      (long long)c.params_rank, (long long)mask, (long long)arch_param_count(a));
        ck_assert_int_eq(c.params, arch_param_count(a));
        /* f32 weights: one allocation of 4 bytes per element, each field padded to 64 bytes. */
        ck_assert(c.weight_bytes_rank >= (size_t)c.params_rank * 4);
        ck_assert(c.weight_bytes_rank < (size_t)c.params_rank * 4 + 64 * 32);
    }
}
END_TEST

START_TEST(test_published_param_counts) {
    static const struct { const char *name; double params; } pub[] = {
        {"webssl-dino300m-full2b-224", 303.7e6}, {"webssl-dino1b-full2b-224", 1.135e9},
        {"webssl-dino2b-full2b-224", 2.084e9},   {"webssl-dino3b-full2b-224", 2.948e9},
        {"webssl-dino5b-full2b-224", 4.938e9},   {"webssl-dino7b-full8b-224", 6.450e9},
        {"webssl-dino7b-full8b-378", 6.452e9},   {"webssl-dino7b-full8b-518", 6.455e9},
    };
    for (size_t i = 0; i < sizeof pub / sizeof pub[0]; i++) {
        ws_cost c;
        ck_assert_int_eq(cost_compute(arch_builtin_find(pub[i].name), 0, 1, 1, WS_DTYPE_BF16, &c), WS_OK);
        double rel = fabs((double)c.params - pub[i].params) / pub[i].params;
        printf("params %-28s model %.4g published %.4g rel err %.2e\n", pub[i].name, (double)c.params,
               pub[i].params, rel);
        ck_assert_msg(rel < 1e-3, "%s: parameter count off by %.2e", pub[i].name, rel);
    }
}
END_TEST

START_TEST(test_flops_vit_large) {
    /* ViT-L/16 at 224 (webssl-mae300m's shape): 61.6 GMACs (Dosovitskiy et al., timm). */
    ws_cost c;
    ck_assert_int_eq(cost_compute(arch_builtin_find("webssl-mae300m-full2b-224"), 224, 1, 1, WS_DTYPE_F32, &c),
                     WS_OK);
    double rel = fabs(c.flops_image - 2 * 61.6e9) / (2 * 61.6e9);
    printf("flops ViT-L/16 model %.4g published %.4g rel err %.2e\n", c.flops_image, 2 * 61.6e9, rel);
    ck_assert_msg(rel < 5e-3, "ViT-L/16 FLOPs off by %.2e", rel);
    ck_assert(fabs(c.flops_image_rank - c.flops_image) < 1e-9 * c.flops_image);
}
END_TEST

START_TEST(test_flops_shares_sum) {
    /* Every rank's share sums to the whole plus (tp - 1) replicated patch embeddings; rank 0's
     * share stands for all, less the FFN columns it holds beyond an even share (columns go in
     * units of 8: 10928 over 4 ranks is 2736 + 2736 + 2728 + 2728). Uneven 21 heads: rank 0 takes
     * the extra head. */
    const ws_arch *a = arch_builtin_find("webssl-dino2b-full2b-224");
    ws_cost c1, c;
    ck_assert_int_eq(cost_compute(a, 0, 4, 1, WS_DTYPE_BF16, &c1), WS_OK);
    ck_assert_int_eq(cost_compute(a, 0, 4, 2, WS_DTYPE_BF16, &c), WS_OK);
    ck_assert_int_eq(c.heads_rank, 11);
    ck_assert_int_eq(c.hidden_rank, 3584);
    ck_assert(c.flops_image_rank > c1.flops_image / 2 && c.flops_image_rank < c1.flops_image * 0.55);
    const ws_arch *d = arch_builtin_find("webssl-dino7b-full8b-224");
    for (int tp = 1; tp <= 8; tp *= 2) {
        ck_assert_int_eq(cost_compute(d, 0, 1, tp, WS_DTYPE_BF16, &c), WS_OK);
        double g = 224 / 14, patch = 2 * g * g * 4096 * 3 * 14 * 14;
        double extra_cols = (double)tp * c.hidden_rank - d->ffn_hidden;   /* w12 (2 rows) + w3 per column */
        double extra = extra_cols * 2.0 * (g * g + 1) * 4096 * 3 * d->depth;
        double sum = tp * c.flops_image_rank - (tp - 1) * patch - extra;
        ck_assert_msg(fabs(sum - c.flops_image) < 1e-9 * c.flops_image, "tp %d: %g vs %g", tp, sum,
                      c.flops_image);
    }
}
END_TEST

START_TEST(test_allreduce_bytes) {
    const ws_arch *a = arch_builtin_find("webssl-dino300m-full2b-224");
    ws_cost c;
    ck_assert_int_eq(cost_compute(a, 0, 8, 1, WS_DTYPE_BF16, &c), WS_OK);
    ck_assert_int_eq(c.allreduces_batch, 0);
    ck_assert_int_eq(c.allreduce_bytes_block, 0);
    ck_assert_int_eq(cost_compute(a, 0, 8, 4, WS_DTYPE_BF16, &c), WS_OK);
    const size_t B = 8, N = 257, C = 1024, L = 24;
    ck_assert_int_eq(c.allreduces_batch, 2 * L);
    ck_assert_uint_eq(c.allreduce_bytes_block, 2 * B * N * C * sizeof(float));
    ck_assert(fabs(c.allreduce_bytes_image - (double)(L * 2 * N * C * 4)) < 0.5);
    const ws_hardware *hw = cost_hardware_find("h100");
    ck_assert_ptr_nonnull(hw);
    ws_throughput t;
    cost_throughput(&c, hw, &t);
    double ring = hw->intra_latency + 2.0 * 3 / 4 * (double)(B * N * C * 4) / (hw->intra_bw * hw->link_efficiency);
    ck_assert(fabs(t.comm_s - 2 * L * ring) < 1e-12);
    ck_assert(fabs(t.gpu_hours_per_billion * 3600 * t.images_per_s_device - 1e9) < 1.0);
    ck_assert_int_eq(cost_compute(a, 0, 8, 17, WS_DTYPE_BF16, &c), WS_ERR_ARG);
    ck_assert_int_eq(cost_compute(a, 100, 8, 1, WS_DTYPE_BF16, &c), WS_ERR_ARG);
}
END_TEST

START_TEST(test_pick_tp) {
    const ws_arch *a = arch_builtin_find("webssl-dino7b-full8b-224");
    char why[512];
    /* bf16 weights (~13 GB) fit one 80 GB GPU. */
    ck_assert_int_eq(cost_pick_tp(a, 0, 32, WS_DTYPE_BF16, 8, 80e9, why, sizeof why), 1);
    printf("pick: %s\n", why);
    /* f32 weights (~25.8 GB) in 20 GiB: tp 2 halves the sharded matrices. */
    int tp = cost_pick_tp(a, 0, 8, WS_DTYPE_F32, 8, 20 * GIB, why, sizeof why);
    printf("pick: %s\n", why);
    ck_assert_int_eq(tp, 2);
    ck_assert_ptr_nonnull(strstr(why, "tp 1 would need"));
    /* tp must divide the world: 6 ranks and 8 GiB skip tp 4 and 5. */
    tp = cost_pick_tp(a, 0, 8, WS_DTYPE_F32, 6, 8 * GIB, why, sizeof why);
    ck_assert_int_eq(tp, 6);
    /* Nothing fits in 1 GiB with 2 ranks. */
    ck_assert_int_eq(cost_pick_tp(a, 0, 8, WS_DTYPE_F32, 2, 1 * GIB, why, sizeof why), WS_ERR_ARG);
    printf("no fit: %s\n", ws_error_message());
    ck_assert_ptr_nonnull(strstr(ws_error_message(), "--tp auto"));
}
END_TEST

int main(void) {
    Suite *s = suite_create("cost_model");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_params_match_arch);
    tcase_add_test(tc, test_published_param_counts);
    tcase_add_test(tc, test_flops_vit_large);
    tcase_add_test(tc, test_flops_shares_sum);
    tcase_add_test(tc, test_allreduce_bytes);
    tcase_add_test(tc, test_pick_tp);
    suite_add_tcase(s, tc);
    return test_run_suite(s, CK_VERBOSE);
}
