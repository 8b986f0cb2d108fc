/* Test-side control of the kernel emulator (tests/emu/cuda_emu.h) and of the emulated CUDA runtime
 * and cuBLASLt (emu_cudart.cpp, emu_cublaslt.cpp), callable from C: the thread schedule of the
 * following launches, the reason the last launch failed, injected API failures and counters. */
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

/* Make call number `nth` (0: the next) of the emulated API function named `call` fail:
 * "cudaMalloc" and "cudaHostAlloc" with cudaErrorMemoryAllocation, "cublasLtMatmul" with
 * CUBLAS_STATUS_EXECUTION_FAILED. One injection at a time; NULL cancels it. */
void emu_inject_failure(const char *call, int nth);
/* 1 when a call of the emulated API (runtime or cuBLASLt) has consumed the injection for `call`. */
int emu_injected(const char *call);

/* Counters of the emulated runtime since the process started: graphs captured
 * (cudaStreamEndCapture with a graph), graphs launched (cudaGraphLaunch), and device allocations
 * live now (cudaMalloc minus cudaFree). */
typedef struct {
    long captures, graph_launches, device_allocations;
} emu_counters;
emu_counters emu_get_counters(void);

#ifdef __cplusplus
}
#endif

#endif
