/* Checks shared by the kernel emulator's tests (test_emu_*.c): the launcher's status, a kernel's
 * result against its CPU twin at a stated tolerance (max abs and relative error printed per
 * schedule) and a loop over the thread schedules of emu_control.h. */
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

#endif
