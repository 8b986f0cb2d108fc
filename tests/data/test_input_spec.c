/* Input spec expansion: brace ranges and lists, globs, directories (recursive, sorted, split by
 * shard size), @lists, stable shard names, and the errors raised before any work starts. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "data/input_spec.h"
#include "data/shard_list_pack.h"
#include "test_main.h"

static char root[256];

static void touch(const char *rel) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs("x", f);
    fclose(f);
}

static void setup(void) {
    test_tmpdir_create(root, sizeof root, "webssl_spec");
    char p[512];
    const char *dirs[] = {"tars", "tars/b", "imgs", "imgs/z", "imgs/a"};
    for (size_t i = 0; i < 5; i++) { snprintf(p, sizeof p, "%s/%s", root, dirs[i]); mkdir(p, 0755); }
    for (int i = 0; i < 12; i++) { snprintf(p, sizeof p, "tars/%05d.tar", i); touch(p); }
    touch("tars/b/00003.tar");
    const char *imgs[] = {"imgs/z/b.JPG", "imgs/a/c.png", "imgs/top.webp", "imgs/a/a.jpeg",
                          "imgs/notes.txt", "imgs/z/a.gif", "imgs/x.bmp"};
    for (size_t i = 0; i < 7; i++) touch(imgs[i]);
    snprintf(p, sizeof p, "%s/list.txt", root);
    FILE *f = fopen(p, "w");
    fputs("# comment\nimgs/x.bmp\n\nimgs/top.webp\r\nmissing.jpg\n", f);
    fclose(f);
}

static void teardown(void) { test_tmpdir_remove(root); }

static ws_shard_list expand_ok(const char *fmt, size_t shard_size) {
    char spec[512];
    snprintf(spec, sizeof spec, fmt, root);
    ws_shard_list l;
    int rc = input_spec_expand(spec, shard_size, &l);
    ck_assert_msg(rc == WS_OK, "%s: %s", spec, ws_error_message());
    return l;
}

static int expand_err(const char *fmt) {
    char spec[512];
    snprintf(spec, sizeof spec, fmt, root);
    ws_shard_list l;
    int rc = input_spec_expand(spec, 10, &l);
    ck_assert_int_lt(rc, 0);
    printf("expected error: %s\n", ws_error_message());
    return rc;
}

START_TEST(brace_range) {
    ws_shard_list l = expand_ok("%s/tars/{00002..00010}.tar", 100);
    ck_assert_uint_eq(l.count, 9);
    ck_assert_str_eq(l.shards[0].name, "00002");
    ck_assert_str_eq(l.shards[8].name, "00010");
    ck_assert_int_eq(l.shards[0].kind, WS_SHARD_TAR);
    shard_list_free(&l);
    l = expand_ok("%s/tars/000{01,05,11}.tar", 100);
    ck_assert_uint_eq(l.count, 3);
    ck_assert_str_eq(l.shards[2].name, "00011");
    shard_list_free(&l);
    l = expand_ok("%s/tars/{00010..00008}.tar", 100);   /* descending */
    ck_assert_str_eq(l.shards[0].name, "00010");
    shard_list_free(&l);
}
END_TEST

START_TEST(glob_sorted) {
    ws_shard_list l = expand_ok("%s/tars/0000?.tar", 100);
    ck_assert_uint_eq(l.count, 10);
    for (size_t i = 1; i < l.count; i++) ck_assert_int_lt(strcmp(l.shards[i - 1].name, l.shards[i].name), 0);
    shard_list_free(&l);
}
END_TEST

START_TEST(directory_split) {
    ws_shard_list l = expand_ok("%s/imgs/", 4);
    ck_assert_uint_eq(l.count, 2);
    ck_assert_str_eq(l.shards[0].name, "imgs-00000");
    ck_assert_str_eq(l.shards[1].name, "imgs-00001");
    ck_assert_uint_eq(l.shards[0].nfiles, 4);
    ck_assert_uint_eq(l.shards[1].nfiles, 2);
    const char *want[] = {"a/a.jpeg", "a/c.png", "top.webp", "x.bmp", "z/a.gif", "z/b.JPG"};
    for (size_t i = 0; i < 6; i++) ck_assert_str_eq(l.shards[i / 4].keys[i % 4], want[i]);
    ck_assert_ptr_nonnull(strstr(l.shards[0].files[0], "imgs/a/a.jpeg"));
    shard_list_free(&l);
}
END_TEST

START_TEST(list_file) {
    ck_assert_int_eq(chdir(root), 0);
    ws_shard_list l = expand_ok("@%s/list.txt", 2);
    ck_assert_uint_eq(l.count, 2);
    ck_assert_str_eq(l.shards[0].name, "list-00000");
    ck_assert_str_eq(l.shards[0].keys[0], "imgs/x.bmp");
    ck_assert_str_eq(l.shards[0].keys[1], "imgs/top.webp");
    ck_assert_str_eq(l.shards[1].keys[0], "missing.jpg");   /* reported per image when read */
    shard_list_free(&l);
}
END_TEST

START_TEST(errors) {
    ck_assert_int_eq(expand_err("%s/tars/*.tgz"), WS_ERR_ARG);              /* glob matches nothing */
    ck_assert_int_eq(expand_err("%s/tars/{00010..00013}.tar"), WS_ERR_ARG);  /* missing members */
    ck_assert_int_eq(expand_err("%s/nothing"), WS_ERR_ARG);
    ck_assert_int_eq(expand_err("%s/tars/{00003.tar,b/00003.tar}"), WS_ERR_ARG);   /* same name */
    ck_assert_int_eq(expand_err("@%s/no-list.txt"), WS_ERR_IO);
    ck_assert_int_eq(expand_err("%s/tars/b/"), WS_ERR_ARG);                  /* no images */
    ck_assert_int_eq(expand_err(""), WS_ERR_ARG);
}
END_TEST

static void same_shards(const ws_shard_list *a, const ws_shard_list *b) {
    ck_assert_uint_eq(a->count, b->count);
    for (size_t i = 0; i < a->count; i++) {
        const ws_shard *x = &a->shards[i], *y = &b->shards[i];
        ck_assert_str_eq(x->name, y->name);
        ck_assert_str_eq(x->path, y->path);
        ck_assert_str_eq(x->display, y->display);
        ck_assert_int_eq(x->kind, y->kind);
        ck_assert_int_eq(x->from_dir, y->from_dir);
        ck_assert_uint_eq(x->nfiles, y->nfiles);
        ck_assert_int_eq(x->keys == NULL, y->keys == NULL);
        for (size_t k = 0; k < x->nfiles; k++) {
            ck_assert_str_eq(x->files[k], y->files[k]);
            if (x->keys) ck_assert_str_eq(x->keys[k], y->keys[k]);
        }
    }
}

/* The list one rank expands and broadcasts: packed and unpacked it is the same list; a buffer
 * cut anywhere or damaged is an error, never a crash or a shorter list. */
START_TEST(pack_roundtrip) {
    const char *specs[] = {"%s/tars/{00000..00011}.tar", "%s/imgs/", "@%s/list.txt"};
    for (size_t t = 0; t < 3; t++) {
        ws_shard_list l = expand_ok(specs[t], 2), u;
        char *buf = NULL;
        size_t len = 0;
        ck_assert_int_eq(shard_list_pack(&l, &buf, &len), WS_OK);
        ck_assert_int_eq(shard_list_unpack(buf, len, &u), WS_OK);
        same_shards(&l, &u);
        shard_list_free(&u);
        for (size_t cut = 0; cut < len; cut++) {
            ck_assert_int_eq(shard_list_unpack(buf, cut, &u), WS_ERR_FORMAT);
            ck_assert_uint_eq(u.count, 0);
        }
        buf[0] ^= 1;
        ck_assert_int_eq(shard_list_unpack(buf, len, &u), WS_ERR_FORMAT);
        free(buf);
        shard_list_free(&l);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("input_spec");
    TCase *tc = tcase_create("spec");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, brace_range);
    tcase_add_test(tc, glob_sorted);
    tcase_add_test(tc, directory_split);
    tcase_add_test(tc, list_file);
    tcase_add_test(tc, errors);
    tcase_add_test(tc, pack_roundtrip);
    suite_add_tcase(s, tc);
    return test_run_suite(s, CK_NORMAL);
}
