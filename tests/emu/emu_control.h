/* Test-side control of the kernel emulator (tests/emu/cuda_emu.h), callable from C: the thread
 * schedule of the following launches and the reason the last launch failed. */
#ifndef WEBSSL_TESTS_EMU_EMU_CONTROL_H
#define WEBSSL_TESTS_EMU_EMU_CONTROL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Order in which runnable threads (and blocks) are resumed after each synchronising operation:
 * ascending thread index, descending, or a fresh pseudo-random permutation every round (every
 * runnable thread advances by one operation a round; cp.async copies land at the wait); or eager:
 * always the lowest runnable thread, so one warp runs ahead of the others up to the next block
 * barrier, with cp.async copies landing at issue. */
typedef enum {
    EMU_SCHEDULE_FORWARD,
    EMU_SCHEDULE_REVERSE,
    EMU_SCHEDULE_RANDOM,
    EMU_SCHEDULE_EAGER,
    EMU_SCHEDULES
} emu_schedule;

void emu_set_schedule(emu_schedule s, uint64_t seed);
const char *emu_schedule_name(emu_schedule s);

/* What made the last failed launch fail (deadlock, divergent barrier or warp operation), "" when
 * none has failed since the last call; clears it. */
const char *emu_last_failure(void);

#ifdef __cplusplus
}
#endif

#endif
