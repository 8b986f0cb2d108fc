/* Checks shared by the kernel emulator's tests (test_emu_*.c): the cases of the op list
 * (tests/backend/op_cases.c) marked for one of them, on the emulated CUDA backend under every
 * thread schedule of emu_control.h with poisoned outputs; and, for a launcher called directly,
 * its status, its result against the CPU twin at a stated tolerance (max abs and relative error
 * printed per schedule) and a loop over the schedules. */
#ifndef WEBSSL_TESTS_EMU_EMU_CHECK_H
#define WEBSSL_TESTS_EMU_EMU_CHECK_H

#include <check.h>
#include <stdio.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "backend/backend.h"
#include "backend/op_cases.h"
#include "common/error.h"
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

/* Run `run` of a case under the emulator: thread schedule number `run`, its name. */
static inline const char *emu_schedule_run(int run) {
    emu_set_schedule((emu_schedule)run, 0x5eed + (uint64_t)run);
    return emu_schedule_name((emu_schedule)run);
}

/* Every case of the op list whose emu_case is `name`, on the emulated CUDA backend against the CPU
 * backend (the list's tolerances), once under each thread schedule, each output filled with NaN
 * and followed by a poisoned border (an element left unwritten or written past the end fails).
 * A failed launch fails with the emulator's reason. */
static inline void emu_check_cases(const char *name) {
    ws_backend *cpu = NULL, *cuda = NULL;
    ck_assert_int_eq(backend_create("cpu", 1, 0, &cpu), WS_OK);
    ck_assert_msg(backend_create("cuda", 0, 0, &cuda) == WS_OK, "%s", ws_error_message());
    const op_run how = {.poison = 1, .runs = EMU_SCHEDULES, .before_run = emu_schedule_run};
    size_t n, ran = 0;
    const op_case *cases = op_cases(&n);
    for (size_t i = 0; i < n; i++) {
        if (!cases[i].emu_case || strcmp(cases[i].emu_case, name)) continue;
        char why[400];
        const int bad = op_case_check(&cases[i], cuda, cpu, &how, why, sizeof why);
        const char *failure = emu_last_failure();
        ck_assert_msg(!bad, "%s%s%s", why, *failure ? ": launch failed: " : "", failure);
        ran++;
    }
    ck_assert_msg(ran > 0, "no cases of the op list have emu_case %s", name);
    printf("%s: %zu cases of the op list, each under %d thread schedules\n", name, ran, (int)EMU_SCHEDULES);
    backend_free(cuda);
    backend_free(cpu);
}

#endif
