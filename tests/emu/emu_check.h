/* Checks shared by the kernel emulator's tests (test_emu_*.c): the launcher's status, a kernel's
 * result against its CPU twin at a stated tolerance (max abs and relative error printed per
 * schedule), a loop over the thread schedules of emu_control.h, and the runner of a suite of
 * named cases. */
#ifndef WEBSSL_TESTS_EMU_EMU_CHECK_H
#define WEBSSL_TESTS_EMU_EMU_CHECK_H

#include <check.h>
#include <stdio.h>

#include "emu_control.h"
#include "gpu/compare.h"
#include "test_main.h"

/* The launcher's status must be success; otherwise the emulator says why. */
static inline void emu_check_launch(const char *what, cudaError_t rc) {
    ck_assert_msg(rc == cudaSuccess, "%s: launch failed (%d): %s", what, (int)rc, emu_last_failure());
}

/* got against ref as `rows` rows: max abs error / max |ref| must stay within tol. */
static inline void emu_check_close(const char *what, emu_schedule s, const float *ref, const float *got, size_t n,
                                   size_t rows, double tol) {
    char name[160];
    snprintf(name, sizeof name, "%s [%s]", what, emu_schedule_name(s));
    gpu_diff d = gpu_compare(name, ref, got, n, rows);
    ck_assert_msg(d.rel <= tol, "%s: rel err %.3e > tolerance %.1e", name, d.rel, tol);
}

/* Runs the enclosed block once per schedule, with `s` naming it. */
#define EMU_FOR_EACH_SCHEDULE(s) \
    for (emu_schedule s = EMU_SCHEDULE_FORWARD; s < EMU_SCHEDULES; s = (emu_schedule)(s + 1)) \
        if (emu_set_schedule(s, 0x5eed + (uint64_t)s), 1)

/* One test case of a suite: its name is what CK_RUN_CASE selects (the planted-defect tests do). */
typedef struct {
    const char *name;
    const TTest *test;
} emu_case;

/* Runs suite `suite` of n cases, one TCase each with the fixture (setup, teardown) and a 600 s
 * timeout, printing every test; the exit status for CTest. */
static inline int emu_run_cases(const char *suite, const emu_case *cases, size_t n, void (*setup)(void),
                                void (*teardown)(void)) {
    Suite *s = suite_create(suite);
    for (size_t i = 0; i < n; i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 600);
        tcase_add_test(tc, cases[i].test);
        suite_add_tcase(s, tc);
    }
    return test_run_suite(s, CK_VERBOSE);
}

#endif
