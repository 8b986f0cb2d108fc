/* Streamed shard specs: kinds, shard names from URLs and pipe: commands, credential redaction,
 * their expansion into STREAM shards (brace ranges, @lists mixing paths and URLs), and a stream
 * over a pipe: command read to the end, cut short, over the size cap and of a bad scheme. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "data/input_spec.h"
#include "data/stream.h"
#include "data/stream_source.h"
#include "test_main.h"

static void name_is(const char *spec, const char *want) {
    char *n = stream_source_name(spec);
    if (!want) {
        ck_assert_msg(n == NULL, "%s: expected no name, got %s", spec, n);
        ck_assert_ptr_nonnull(strstr(ws_error_message(), "no shard name"));
        return;
    }
    ck_assert_msg(n && !strcmp(n, want), "%s: name %s, expected %s", spec, n ? n : "(none)", want);
    free(n);
}

static void redacts(const char *in, const char *want) {
    char *r = stream_source_redact(in);
    ck_assert_msg(!strcmp(r, want), "redact(%s) = %s, expected %s", in, r, want);
    free(r);
}

START_TEST(kinds_and_names) {
    ck_assert_int_eq(stream_source_kind("https://h/a.tar"), WS_SOURCE_HTTP);
    ck_assert_int_eq(stream_source_kind("HTTP://h/a.tar"), WS_SOURCE_HTTP);
    ck_assert_int_eq(stream_source_kind("pipe:cat a.tar"), WS_SOURCE_PIPE);
    ck_assert_int_eq(stream_source_kind("s3://b/a.tar"), WS_SOURCE_UNSUPPORTED);
    ck_assert_int_eq(stream_source_kind("data/a.tar"), WS_SOURCE_LOCAL);
    ck_assert_int_eq(stream_source_kind("C:/x"), WS_SOURCE_LOCAL);
    name_is("https://h.example/d/shard-0042.tar?X-Amz-Signature=abc#frag", "shard-0042");
    name_is("http://h/d/x.tar.gz", "x");
    name_is("http://h/d/x.tgz", "x");
    name_is("http://h/d/plain", "plain");
    name_is("pipe:aws s3 cp s3://b/train/shard-0007.tar -", "shard-0007");
    name_is("pipe:curl -s 'https://h/a/b-01.tar?sig=1' | zcat", "b-01");
    name_is("pipe:cat /data/x.tar; kill -9 $$", "x");
    name_is("pipe:head -c 3000 /dev/urandom", "urandom");
    name_is("http://h", NULL);
    name_is("http://h/", NULL);
    name_is("pipe:true", NULL);
}
END_TEST

START_TEST(redaction) {
    redacts("https://user:pw@h:8080/a/b.tar?sig=1&x=2", "https://***@h:8080/a/b.tar?***");
    redacts("https://h/a/b.tar#part", "https://h/a/b.tar#part");
    redacts("https://h/a.tar?s=1#part", "https://h/a.tar?***#part");
    redacts("pipe:curl -s 'https://k:v@h/a.tar?t=9' | cat", "pipe:curl -s 'https://***@h/a.tar?***' | cat");
    redacts("data/{0000..0009}.tar", "data/{0000..0009}.tar");
    redacts("http://h/x@y/z.tar", "http://h/x@y/z.tar");       /* an @ in the path is no user */
}
END_TEST

START_TEST(expansion) {
    ws_shard_list l;
    ck_assert_int_eq(input_spec_expand("https://u:p@h/d/{0008..0011}.tar?t=1", 10, &l), WS_OK);
    ck_assert_uint_eq(l.count, 4);
    ck_assert_int_eq(l.shards[0].kind, WS_SHARD_STREAM);
    ck_assert_str_eq(l.shards[0].name, "0008");
    ck_assert_str_eq(l.shards[3].name, "0011");
    ck_assert_str_eq(l.shards[3].path, "https://u:p@h/d/0011.tar?t=1");
    ck_assert_str_eq(l.shards[3].display, "https://***@h/d/0011.tar?***");
    shard_list_free(&l);
    ck_assert_int_eq(input_spec_expand("pipe:aws s3 cp s3://b/{a,b}.tar -", 10, &l), WS_OK);
    ck_assert_uint_eq(l.count, 2);
    ck_assert_str_eq(l.shards[1].name, "b");
    ck_assert_str_eq(l.shards[1].path, "pipe:aws s3 cp s3://b/b.tar -");
    shard_list_free(&l);
    ck_assert_int_eq(input_spec_expand("http://h/{a,b}/x.tar", 10, &l), WS_ERR_ARG);   /* same name */
    ck_assert_int_eq(input_spec_expand("pipe:true", 10, &l), WS_ERR_ARG);              /* no name */

    char dir[256], list[300], tar[300];
    test_tmpdir_create(dir, sizeof dir, "webssl_stream");
    snprintf(tar, sizeof tar, "%s/local-1.tar", dir);
    snprintf(list, sizeof list, "%s/shards.txt", dir);
    fclose(fopen(tar, "w"));
    FILE *f = fopen(list, "w");
    fprintf(f, "# shards\n%s\nhttps://h/remote-2.tar\npipe:cat %s/piped-3.tar\n", tar, dir);
    fclose(f);
    char spec[310];
    snprintf(spec, sizeof spec, "@%s", list);
    ck_assert_int_eq(input_spec_expand(spec, 10, &l), WS_OK);
    ck_assert_uint_eq(l.count, 3);
    ck_assert_int_eq(l.shards[0].kind, WS_SHARD_TAR);
    ck_assert_str_eq(l.shards[0].name, "local-1");
    ck_assert_int_eq(l.shards[1].kind, WS_SHARD_STREAM);
    ck_assert_str_eq(l.shards[1].name, "remote-2");
    ck_assert_str_eq(l.shards[2].name, "piped-3");
    shard_list_free(&l);
    f = fopen(list, "a");
    fprintf(f, "images/a.jpg\n");
    fclose(f);
    ck_assert_int_eq(input_spec_expand(spec, 10, &l), WS_ERR_ARG);   /* shards and images mixed */
    ck_assert_ptr_nonnull(strstr(ws_error_message(), "mixes tar shards"));
    test_tmpdir_remove(dir);
}
END_TEST

/* Reads a stream to its end: returns the byte count, or -1 on failure. */
static long long drain(const char *src, const ws_stream_opts *o, char *why, size_t whylen) {
    ws_stream *s;
    ck_assert_int_eq(stream_open(src, o, &s), WS_OK);
    char buf[4096];
    long long total = 0;
    ssize_t n;
    while ((n = stream_read(s, buf, sizeof buf)) > 0) total += n;
    snprintf(why, whylen, "%s", stream_error(s));
    stream_close(s);
    return n < 0 ? -1 : total;
}

START_TEST(pipe_streams) {
    ws_stream_opts o;
    stream_opts_default(&o);
    o.retries = 2;
    o.retry_wait = 0.01;
    char why[512];
    ck_assert_int_eq(drain("pipe:head -c 100000 /dev/zero", &o, why, sizeof why), 100000);
    ck_assert_int_eq(drain("pipe:head -c 1000 /dev/zero; exit 3", &o, why, sizeof why), -1);
    ck_assert_msg(strstr(why, "exited with status 3") && strstr(why, "gave up after 3 attempts"), "%s", why);
    o.max_bytes = 5000;
    ck_assert_int_eq(drain("pipe:head -c 100000 /dev/zero", &o, why, sizeof why), -1);
    ck_assert_msg(strstr(why, "--max-shard-bytes limit of 5000"), "%s", why);
    ck_assert_int_eq(drain("gopher://u:secret@h/x.tar", &o, why, sizeof why), -1);
    ck_assert_msg(strstr(why, "unsupported URL scheme 'gopher'") && !strstr(why, "secret"), "%s", why);
}
END_TEST

int main(void) {
    Suite *s = suite_create("stream_source");
    TCase *tc = tcase_create("stream");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, kinds_and_names);
    tcase_add_test(tc, redaction);
    tcase_add_test(tc, expansion);
    tcase_add_test(tc, pipe_streams);
    suite_add_tcase(s, tc);
    return test_run_suite(s, CK_NORMAL);
}
