/* Unit tests of the name map (every unknown, missing and mis-shaped tensor reported, with the
 * expected name and shape), of the TP split and of the per-rank weight sizes. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "loaders/namemap.h"
#include "loaders/namemap_head.h"
#include "model/weights.h"
#include "test_main.h"

static void add(ws_ckpt *c, const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
    static float zeros[1];
    ws_ckpt_tensor t = {.name = (char *)name, .dtype = WS_DTYPE_F32, .ndim = ndim, .data = zeros, .file = "mem"};
    int64_t d[4] = {d0, d1, d2, d3};
    for (int i = 0; i < ndim; i++) t.shape[i] = d[i];
    ck_assert_int_eq(ckpt_add_tensor(c, &t), WS_OK);
}

/* A complete HF Dinov2 checkpoint of tiny-dino (C 48, L 2, H 128, P 14, G 4), minus `skip`. */
static void fill_dinov2(ws_ckpt *c, const char *skip) {
    memset(c, 0, sizeof *c);
    c->path = strdup("mem.safetensors");
    const int C = 48, H = 128;
    const char *single[] = {"embeddings.patch_embeddings.projection.bias", "layernorm.weight", "layernorm.bias"};
    add(c, "embeddings.patch_embeddings.projection.weight", 4, C, 3, 14, 14);
    for (int i = 0; i < 3; i++) add(c, single[i], 1, C, 0, 0, 0);
    add(c, "embeddings.cls_token", 3, 1, 1, C, 0);
    add(c, "embeddings.mask_token", 2, 1, C, 0, 0);
    add(c, "embeddings.position_embeddings", 3, 1, 17, C, 0);
    for (int l = 0; l < 2; l++) {
        const char *vec[] = {"norm1.weight", "norm1.bias", "attention.attention.query.bias",
                             "attention.attention.key.bias", "attention.attention.value.bias",
                             "attention.output.dense.bias", "layer_scale1.lambda1", "norm2.weight",
                             "norm2.bias", "mlp.weights_out.bias", "layer_scale2.lambda1"};
        const char *sq[] = {"attention.attention.query.weight", "attention.attention.key.weight",
                            "attention.attention.value.weight", "attention.output.dense.weight"};
        char nm[128];
        for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
            snprintf(nm, sizeof nm, "encoder.layer.%d.%s", l, vec[i]);
            if (!skip || strcmp(nm, skip)) add(c, nm, 1, C, 0, 0, 0);
        }
        for (size_t i = 0; i < 4; i++) {
            snprintf(nm, sizeof nm, "encoder.layer.%d.%s", l, sq[i]);
            if (!skip || strcmp(nm, skip)) add(c, nm, 2, C, C, 0, 0);
        }
        snprintf(nm, sizeof nm, "encoder.layer.%d.mlp.weights_in.weight", l);
        add(c, nm, 2, 2 * H, C, 0, 0);
        snprintf(nm, sizeof nm, "encoder.layer.%d.mlp.weights_in.bias", l);
        add(c, nm, 1, 2 * H, 0, 0, 0);
        snprintf(nm, sizeof nm, "encoder.layer.%d.mlp.weights_out.weight", l);
        add(c, nm, 2, C, H, 0, 0);
    }
}

START_TEST(test_complete_binds) {
    ws_ckpt c;
    fill_dinov2(&c, NULL);
    const ws_arch *a = arch_builtin_find("tiny-dino");
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_eq(namemap_choose(&c, a), &namemap_hf_dinov2);
    ws_name_binding *b;
    size_t n;
    ck_assert_int_eq(namemap_bind(&c, &namemap_hf_dinov2, a, &b, &n), WS_OK);
    ck_assert_uint_eq(n, c.num_tensors - 1);   /* all but the ignored mask token */
    free(b);
    ckpt_close(&c);
}
END_TEST

START_TEST(test_all_problems_reported) {
    ws_ckpt c;
    fill_dinov2(&c, "encoder.layer.1.attention.attention.key.weight");
    add(&c, "encoder.layer.0.some.unknown", 1, 4, 0, 0, 0);
    add(&c, "encoder.layer.7.norm1.weight", 1, 48, 0, 0, 0);
    c.tensors[0].shape[1] = 4;   /* patch projection [48, 4, 14, 14] */
    const ws_arch *a = arch_builtin_find("tiny-dino");
    ws_name_binding *b;
    size_t n;
    ck_assert_int_eq(namemap_bind(&c, &namemap_hf_dinov2, a, &b, &n), WS_ERR_SHAPE);
    const char *msg = ws_error_message();
    ck_assert_ptr_nonnull(strstr(msg, "4 problem(s)"));
    ck_assert_ptr_nonnull(strstr(msg, "missing tensor 'encoder.layer.1.attention.attention.key.weight' [48, 48]"));
    ck_assert_ptr_nonnull(strstr(msg, "unknown tensor 'encoder.layer.0.some.unknown'"));
    ck_assert_ptr_nonnull(strstr(msg, "'encoder.layer.7.norm1.weight': layer index out of range"));
    ck_assert_ptr_nonnull(strstr(msg, "has shape [48, 4, 14, 14], expected [48, 3, 14, 14]"));
    ckpt_close(&c);
}
END_TEST

START_TEST(test_patterns) {
    int layer;
    ck_assert(namemap_match("blocks.{c}.{i}.norm1.weight", "blocks.1.7.norm1.weight", &layer));
    ck_assert_int_eq(layer, 7);
    ck_assert(!namemap_match("blocks.{i}.norm1.weight", "blocks.x.norm1.weight", &layer));
    ck_assert(!namemap_match("blocks.{i}.norm1.weight", "blocks.1.norm1.weight2", &layer));
    ck_assert(namemap_match("dino_head.*", "dino_head.mlp.0.weight", &layer));
}
END_TEST

/* The DINO head table: Sequential indices to layers, both weight-norm forms, unknown names. */
START_TEST(test_head_names) {
    size_t plen;
    ws_head_part part;
    int layer;
    ck_assert_int_eq(namemap_head_resolve("module.dino_head.mlp.4.bias", &plen, &part, &layer), 1);
    ck_assert(plen == strlen("module.dino_head.") && part == WS_HEAD_MLP_B && layer == 2);
    ck_assert_int_eq(namemap_head_resolve("dino_head.mlp.weight", &plen, &part, &layer), 1);
    ck_assert(part == WS_HEAD_MLP_W && layer == 0);
    ck_assert_int_eq(namemap_head_resolve("dino_head.last_layer.parametrizations.weight.original1", &plen, &part,
                                          &layer), 1);
    ck_assert_int_eq(part, WS_HEAD_PROTO_V);
    ck_assert_int_eq(namemap_head_resolve("dino_head.last_layer.weight_g", &plen, &part, &layer), 1);
    ck_assert_int_eq(part, WS_HEAD_PROTO_G);
    ck_assert_int_eq(namemap_head_resolve("dino_head.mlp.1.weight", &plen, &part, &layer), -1);   /* batch norm */
    ck_assert_int_eq(namemap_head_resolve("ibot_head.mlp.0.weight", &plen, &part, &layer), 0);
    ck_assert_int_eq(namemap_head_resolve("backbone.not_dino_head.x", &plen, &part, &layer), 0);
}
END_TEST

START_TEST(test_split_and_sizes) {
    int off, cnt;
    weights_split(21, 2, 0, &off, &cnt);
    ck_assert(off == 0 && cnt == 11);
    weights_split(21, 2, 1, &off, &cnt);
    ck_assert(off == 11 && cnt == 10);
    weights_split(2736, 3, 2, &off, &cnt);
    ck_assert(off == 1824 && cnt == 912);
    /* the ranks' slices add up to the whole model, field by field */
    const ws_arch *a = arch_builtin_find("webssl-dino2b-full2b-224");
    ws_tp_slice one, s;
    ck_assert_int_eq(weights_tp_slice(a, 0, 1, &one), WS_OK);
    for (int f = 0; f < WS_W_COUNT; f++) {
        size_t sum = 0;
        for (int r = 0; r < 4; r++) {
            ck_assert_int_eq(weights_tp_slice(a, r, 4, &s), WS_OK);
            size_t n = weights_field_numel(a, &s, (ws_field)f);
            sum += weights_field_info((ws_field)f)->split == WS_SPLIT_NONE ? (r == 0 ? n : 0) : n;
        }
        ck_assert_uint_eq(sum, weights_field_numel(a, &one, (ws_field)f));
    }
    size_t bytes[WS_W_COUNT], total = weights_sizes(a, &one, WS_DTYPE_F32, bytes);
    ck_assert_uint_ge(total, (size_t)arch_param_count(a) * 4 - (size_t)a->embed_dim * 4);   /* no mask token */
    ck_assert_int_ne(weights_tp_slice(a, 0, 22, &s), WS_OK);   /* more ranks than the 21 heads */
}
END_TEST

int main(void) {
    Suite *s = suite_create("namemap");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_complete_binds);
    tcase_add_test(tc, test_all_problems_reported);
    tcase_add_test(tc, test_patterns);
    tcase_add_test(tc, test_head_names);
    tcase_add_test(tc, test_split_and_sizes);
    suite_add_tcase(s, tc);
    return test_run_suite(s, CK_NORMAL);
}
