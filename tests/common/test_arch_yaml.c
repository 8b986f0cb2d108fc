/* Architecture files: every file in configs/ equals its built-in entry, write/read round trips,
 * family defaults, --arch resolution, and every reading error names the file and the field. */
#include <check.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/arch.h"
#include "test_main.h"

static char tmpdir[256];

static void setup(void) { test_tmpdir_create(tmpdir, sizeof tmpdir, "arch_yaml"); }

static void teardown(void) { test_tmpdir_remove(tmpdir); }

static const char *write_file(const char *name, const char *text) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* Field-by-field equality, so that a difference says which field. */
static void assert_arch_eq(const ws_arch *a, const ws_arch *b) {
    ck_assert_str_eq(a->name, b->name);
    ck_assert_int_eq(a->family, b->family);
    ck_assert_int_eq(a->patch_size, b->patch_size);
    ck_assert_int_eq(a->img_size, b->img_size);
    ck_assert_int_eq(a->embed_dim, b->embed_dim);
    ck_assert_int_eq(a->depth, b->depth);
    ck_assert_int_eq(a->num_heads, b->num_heads);
    ck_assert_int_eq(a->ffn, b->ffn);
    ck_assert_int_eq(a->ffn_hidden, b->ffn_hidden);
    ck_assert_int_eq(a->layerscale, b->layerscale);
    ck_assert_int_eq(a->qkv_bias, b->qkv_bias);
    ck_assert_int_eq(a->proj_bias, b->proj_bias);
    ck_assert_int_eq(a->ffn_bias, b->ffn_bias);
    ck_assert_float_eq(a->norm_eps, b->norm_eps);
    ck_assert_int_eq(a->num_register_tokens, b->num_register_tokens);
    ck_assert_int_eq(a->preprocess.mode, b->preprocess.mode);
    ck_assert_int_eq(a->preprocess.resize, b->preprocess.resize);
    ck_assert_int_eq(a->preprocess.crop, b->preprocess.crop);
    for (int i = 0; i < 3; i++) {
        ck_assert_float_eq(a->preprocess.mean[i], b->preprocess.mean[i]);
        ck_assert_float_eq(a->preprocess.std[i], b->preprocess.std[i]);
    }
}

START_TEST(configs_equal_builtins) {
    const char *src = getenv("WEBSSL_SOURCE_DIR");
    ck_assert_ptr_nonnull(src);
    char pattern[512];
    snprintf(pattern, sizeof pattern, "%s/configs/*.yaml", src);
    glob_t g;
    ck_assert_int_eq(glob(pattern, 0, NULL, &g), 0);
    ck_assert_uint_eq(g.gl_pathc, arch_builtin_count());
    for (size_t i = 0; i < g.gl_pathc; i++) {
        ws_arch a;
        int rc = arch_load_yaml(g.gl_pathv[i], &a);
        ck_assert_msg(rc == WS_OK, "%s", ws_error_message());
        const ws_arch *b = arch_builtin_find(a.name);
        ck_assert_msg(b != NULL, "%s: name %s is not built in", g.gl_pathv[i], a.name);
        assert_arch_eq(&a, b);
        ck_assert_int_eq(arch_param_count(&a), arch_param_count(b));
    }
    globfree(&g);
}
END_TEST

START_TEST(round_trip) {
    for (size_t i = 0; i < arch_builtin_count(); i++) {
        const ws_arch *b = arch_builtin_at(i);
        char path[512];
        snprintf(path, sizeof path, "%s/%s.yaml", tmpdir, b->name);
        ck_assert_int_eq(arch_write_yaml(b, path), WS_OK);
        ws_arch a;
        ck_assert_msg(arch_load_yaml(path, &a) == WS_OK, "%s", ws_error_message());
        assert_arch_eq(&a, b);
    }
    /* an unusual shape: odd ffn_hidden (no mlp_ratio line), registers, square preprocessing */
    ws_arch odd = *arch_builtin_find("tiny-dino");
    snprintf(odd.name, sizeof odd.name, "odd \"name\" with spaces");
    odd.ffn_hidden = 100;
    odd.num_register_tokens = 4;
    odd.norm_eps = 1e-5f;
    odd.preprocess.mode = WS_PREPROCESS_SQUARE;
    odd.preprocess.mean[0] = 0.1f / 3;
    char path[512];
    snprintf(path, sizeof path, "%s/odd.yaml", tmpdir);
    ck_assert_int_eq(arch_write_yaml(&odd, path), WS_OK);
    ws_arch a;
    ck_assert_msg(arch_load_yaml(path, &a) == WS_OK, "%s", ws_error_message());
    assert_arch_eq(&a, &odd);
}
END_TEST

/* Absent fields take the family defaults: minimal files equal the built-in entries. */
START_TEST(family_defaults) {
    ws_arch a;
    const char *p = write_file("webssl-mae700m-full2b-224.yaml",
                               "family: mae\npatch_size: 14\nembed_dim: 1280\ndepth: 32\nnum_heads: 16\n");
    ck_assert_msg(arch_load_yaml(p, &a) == WS_OK, "%s", ws_error_message());
    assert_arch_eq(&a, arch_builtin_find("webssl-mae700m-full2b-224"));   /* name from the file name */
    p = write_file("d.yaml", "name: webssl-dino5b-full2b-224\nfamily: dino\npatch_size: 14\nembed_dim: 3584\n"
                             "depth: 32\nnum_heads: 28\n");
    ck_assert_msg(arch_load_yaml(p, &a) == WS_OK, "%s", ws_error_message());
    assert_arch_eq(&a, arch_builtin_find("webssl-dino5b-full2b-224"));    /* ffn_hidden 9560 from mlp_ratio 4 */
    p = write_file("r.yaml", "name: r\nfamily: dino\npatch_size: 14\nembed_dim: 1024\ndepth: 2\nnum_heads: 16\n"
                             "mlp_ratio: 2\nimg_size: 518\npreprocess: {mode: square}\n");
    ck_assert_msg(arch_load_yaml(p, &a) == WS_OK, "%s", ws_error_message());
    ck_assert_int_eq(a.ffn_hidden, arch_default_ffn_hidden(WS_FAMILY_DINO, 1024, 2));
    ck_assert_int_eq(a.preprocess.mode, WS_PREPROCESS_SQUARE);
    ck_assert_int_eq(a.preprocess.crop, 518);
}
END_TEST

/* Each bad file must fail with a message containing the file name and `needle`. */
static void expect_error(const char *name, const char *text, const char *needle) {
    const char *p = write_file(name, text);
    char path[512];
    snprintf(path, sizeof path, "%s", p);
    ws_arch a;
    int rc = arch_load_yaml(path, &a);
    ck_assert_msg(rc != WS_OK, "%s: loaded but should fail (%s)", name, needle);
    const char *msg = ws_error_message();
    printf("%-14s -> %s\n", name, msg);
    ck_assert_msg(strstr(msg, path) != NULL, "message does not name the file: %s", msg);
    ck_assert_msg(strstr(msg, needle) != NULL, "message lacks '%s': %s", needle, msg);
}

#define BASE "name: t\nfamily: dino\npatch_size: 14\nembed_dim: 48\ndepth: 2\nnum_heads: 3\n"

START_TEST(errors) {
    expect_error("unknown.yaml", BASE "heads: 3\n", "unknown field 'heads'");
    expect_error("missing.yaml", "family: dino\npatch_size: 14\nembed_dim: 48\nnum_heads: 3\n", "'depth'");
    expect_error("badint.yaml", "family: dino\npatch_size: 14\nembed_dim: 4x8\ndepth: 2\nnum_heads: 3\n",
                 "field 'embed_dim'");
    expect_error("negative.yaml", "family: dino\npatch_size: -14\nembed_dim: 48\ndepth: 2\nnum_heads: 3\n",
                 "field 'patch_size'");
    expect_error("family.yaml", "family: dinov2\npatch_size: 14\nembed_dim: 48\ndepth: 2\nnum_heads: 3\n",
                 "field 'family'");
    expect_error("ffn.yaml", BASE "ffn: gelu\n", "field 'ffn'");
    expect_error("bool.yaml", BASE "layerscale: maybe\n", "field 'layerscale'");
    expect_error("eps.yaml", BASE "norm_eps: -1\n", "field 'norm_eps'");
    expect_error("twice.yaml", BASE "depth: 3\n", "'depth' given twice");
    expect_error("ratio.yaml", BASE "ffn_hidden: 100\nmlp_ratio: 4\n", "field 'ffn_hidden'");
    expect_error("syntax.yaml", BASE "preprocess: {mode: crop\n", "YAML error");
    expect_error("list.yaml", "- family: dino\n", "mapping");
    expect_error("empty.yaml", "", "empty");
    expect_error("heads.yaml", "family: dino\npatch_size: 14\nembed_dim: 48\ndepth: 2\nnum_heads: 5\n",
                 "not divisible by num_heads");
    expect_error("pre.yaml", BASE "preprocess: {mode: crop, sharpen: 1}\n", "unknown field 'sharpen' in preprocess");
    expect_error("mean.yaml", BASE "preprocess: {mean: [0.5, 0.5]}\n", "field 'preprocess.mean'");
    expect_error("std.yaml", BASE "preprocess: {std: [0.5, 0, 0.5]}\n", "field 'preprocess.std'");
    expect_error("resize.yaml", BASE "preprocess: {mode: crop, resize: 200, crop: 224}\n", "preprocess sizes");
}
END_TEST

START_TEST(resolve) {
    ws_arch a;
    ck_assert_int_eq(arch_resolve("webssl-dino7b-full8b-518", &a), WS_OK);
    ck_assert_int_eq(a.img_size, 518);
    ck_assert_int_eq(arch_resolve("webssl-dino7b-full8b-384", &a), WS_OK);   /* alias, with a warning */
    ck_assert_str_eq(a.name, "webssl-dino7b-full8b-378");
    ck_assert_int_eq(arch_resolve("webssl-dino9b", &a), WS_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(ws_error_message(), "webssl-dino9b"));
    const char *p = write_file("x.yml", BASE);
    char path[512];
    snprintf(path, sizeof path, "%s", p);
    ck_assert_int_eq(arch_resolve(path, &a), WS_OK);
    ck_assert_str_eq(a.name, "t");
    snprintf(path, sizeof path, "%s/absent.yaml", tmpdir);
    ck_assert_int_eq(arch_resolve(path, &a), WS_ERR_IO);
    ck_assert_ptr_nonnull(strstr(ws_error_message(), path));
}
END_TEST

int main(void) {
    Suite *s = suite_create("arch_yaml");
    TCase *tc = tcase_create("arch_yaml");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, configs_equal_builtins);
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, family_defaults);
    tcase_add_test(tc, errors);
    tcase_add_test(tc, resolve);
    suite_add_tcase(s, tc);
    return test_run_suite(s, CK_NORMAL);
}
