/* Helpers shared by the check-based tests: a per-test temporary directory and the runner that
 * turns a suite's result into the exit status CTest reads (tests/ is on their include path). */
#ifndef WEBSSL_TEST_MAIN_H
#define WEBSSL_TEST_MAIN_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

/* Creates a fresh directory $TMPDIR/<prefix>_XXXXXX (/tmp without TMPDIR) and writes its path
 * into dir[size]; fails the current test when it cannot. */
static inline void test_tmpdir_create(char *dir, size_t size, const char *prefix) {
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(dir, size, "%s/%s_XXXXXX", base, prefix);
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

/* Removes dir and everything in it; fails the current test when that fails. */
static inline void test_tmpdir_remove(const char *dir) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Runs every test of s (the runner takes and frees s), printing results at `mode` (CK_NORMAL:
 * failures and a summary; CK_VERBOSE: every test). Returns EXIT_SUCCESS when all passed, else
 * EXIT_FAILURE. */
static inline int test_run_suite(Suite *s, enum print_output mode) {
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, mode);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
