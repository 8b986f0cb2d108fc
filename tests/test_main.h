/* Helpers shared by the check-based tests: a per-test temporary directory, the runner that
 * turns a suite's result into the exit status CTest reads, and a suite made of named cases
 * (tests/ is on their include path). */
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

/* One test case of a suite: its name is what CK_RUN_CASE selects (the planted-defect and
 * compute-sanitizer tests run one case). */
typedef struct {
    const char *name;
    const TTest *test;
} test_case;

/* Runs suite `suite` of n cases, one TCase each with the fixture (setup, teardown) and a timeout
 * of timeout_s seconds, printing every test; the exit status for CTest. */
static inline int test_run_cases(const char *suite, const test_case *cases, size_t n, void (*setup)(void),
                                 void (*teardown)(void), double timeout_s) {
    Suite *s = suite_create(suite);
    for (size_t i = 0; i < n; i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, timeout_s);
        tcase_add_test(tc, cases[i].test);
        suite_add_tcase(s, tc);
    }
    return test_run_suite(s, CK_VERBOSE);
}

#endif
