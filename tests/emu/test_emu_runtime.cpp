/* The kernel emulator's own checks, on small kernels written here: a missing barrier gives a wrong
 * result under some schedule while the correct kernel agrees under all of them; a warp operation
 * that lanes which exited never reach is reported as a deadlock; threads waiting at different
 * barriers are reported as divergent; a cp.async pipeline is right with its wait and its barriers,
 * wrong without the wait, and wrong under the eager schedule without the barrier that keeps a
 * buffer from being refilled while others read it; dynamic shared memory over 48 KB needs
 * cudaFuncSetAttribute. Prints one line per check; exit status 1 on any failure. */
#include <stdio.h>
#include <string.h>

#include "backend/cuda/cuda_ptx.h"

enum { THREADS = 64 };

/* out[t] = the value thread t+1 stored; `tag` makes this launch's values differ from what an
 * earlier launch left in shared memory. */
static __global__ void neighbour_kernel(int *out, int tag, bool barrier) {
    __shared__ int s[THREADS];
    const int t = threadIdx.x;
    s[t] = tag + t;
    if (barrier) __syncthreads();
    out[t] = s[(t + 1) % THREADS];
}

/* Half the warp leaves, the other half shuffles with a full mask. */
static __global__ void exited_lanes_kernel(float *out) {
    if (threadIdx.x >= 16) return;
    out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, (float)threadIdx.x, 1);
}

/* Odd and even threads wait at two different barriers. */
static __global__ void divergent_kernel(int *out) {
    if (threadIdx.x % 2) __syncthreads();
    else __syncthreads();
    out[threadIdx.x] = 1;
}

/* Double-buffered cp.async pipeline over `tiles` tiles of 128 floats: thread t sums element
 * (4t + 5) % 128 of every tile, which another thread copied. Without the wait, tile k is read
 * before it has landed; without the guard barrier, tile k + 2 may land while tile k is read. */
static __global__ void pipeline_kernel(float *out, const float *in, int tiles, bool wait, bool guard) {
    __shared__ __align__(16) float buf[2][128];
    const int t = threadIdx.x;
    ptx_cp_async_16(&buf[0][4 * t], in + 4 * t, 16);
    ptx_cp_async_commit();
    float acc = 0.0f;
    for (int k = 0; k < tiles; k++) {
        if (k + 1 < tiles) ptx_cp_async_16(&buf[(k + 1) & 1][4 * t], in + (size_t)(k + 1) * 128 + 4 * t, 16);
        ptx_cp_async_commit();
        if (wait) ptx_cp_async_wait_group<1>();
        __syncthreads();
        acc += buf[k & 1][(4 * t + 5) % 128];
        if (guard) __syncthreads();
    }
    out[t] = acc;
}

/* Thread t writes t to dynamic shared memory and reads back its neighbour's value. */
static __global__ void dynamic_kernel(int *out) {
    CUDA_DYNAMIC_SHARED(raw);
    int *s = reinterpret_cast<int *>(raw);
    s[threadIdx.x] = threadIdx.x;
    __syncthreads();
    out[threadIdx.x] = s[(threadIdx.x + 1) % THREADS];
}

static int failures;

static void expect(bool ok, const char *what) {
    printf("%-70s %s\n", what, ok ? "ok" : "FAILED");
    if (!ok) failures++;
}

static bool neighbour_right(emu_schedule s, int tag, bool barrier) {
    int out[THREADS];
    emu_set_schedule(s, 7);
    CUDA_LAUNCH(neighbour_kernel, 1, THREADS, 0, out, tag, barrier);
    if (cudaGetLastError() != cudaSuccess) return false;
    for (int t = 0; t < THREADS; t++)
        if (out[t] != tag + (t + 1) % THREADS) return false;
    return true;
}

int main(void) {
    int tag = 1000, wrong = 0;
    for (int s = 0; s < EMU_SCHEDULES; s++) {
        char what[96];
        snprintf(what, sizeof what, "with the barrier, schedule %s: every thread reads its neighbour",
                 emu_schedule_name((emu_schedule)s));
        expect(neighbour_right((emu_schedule)s, tag += 1000, true), what);
        wrong += !neighbour_right((emu_schedule)s, tag += 1000, false);
    }
    printf("without the barrier: wrong under %d of %d schedules\n", wrong, (int)EMU_SCHEDULES);
    expect(wrong > 0, "a missing barrier changes the result under some schedule");

    float f[32];
    emu_set_schedule(EMU_SCHEDULE_FORWARD, 1);
    CUDA_LAUNCH(exited_lanes_kernel, 1, 32, 0, f);
    const bool failed = cudaGetLastError() == cudaErrorLaunchFailure;
    const char *why = emu_last_failure();
    printf("  %s\n", why);
    expect(failed && strstr(why, "deadlock") && strstr(why, "exited"),
           "a full-mask shuffle after lanes exited is a deadlock");

    int o[THREADS];
    CUDA_LAUNCH(divergent_kernel, 1, THREADS, 0, o);
    const bool failed2 = cudaGetLastError() == cudaErrorLaunchFailure;
    why = emu_last_failure();
    printf("  %s\n", why);
    expect(failed2 && strstr(why, "divergent __syncthreads"), "threads at different barriers are reported");

    expect(neighbour_right(EMU_SCHEDULE_RANDOM, tag + 1000, true), "a failed launch leaves the emulator usable");

    enum { TILES = 5 };
    static __align__(16) float in[TILES * 128];
    float sums[32], want[32];
    for (int i = 0; i < TILES * 128; i++) in[i] = (float)(i % 97) + 0.25f * (float)(i / 128);
    for (int t = 0; t < 32; t++) {
        want[t] = 0.0f;
        for (int k = 0; k < TILES; k++) want[t] += in[k * 128 + (4 * t + 5) % 128];
    }
    struct {
        emu_schedule s;
        bool wait, guard, right;
        const char *what;
    } pipes[] = {
        {EMU_SCHEDULE_FORWARD, true, true, true, "cp.async double buffer, forward schedule: right sums"},
        {EMU_SCHEDULE_EAGER, true, true, true, "cp.async double buffer, eager schedule: right sums"},
        {EMU_SCHEDULE_FORWARD, false, true, false, "cp.async double buffer without wait_group: wrong sums"},
        {EMU_SCHEDULE_EAGER, true, false, false, "cp.async buffer refilled before all read it (eager): wrong sums"},
    };
    for (const auto &p : pipes) {
        emu_set_schedule(p.s, 1);
        CUDA_LAUNCH(pipeline_kernel, 1, 32, 0, sums, in, (int)TILES, p.wait, p.guard);
        bool right = cudaGetLastError() == cudaSuccess;
        for (int t = 0; t < 32; t++) right = right && sums[t] == want[t];
        expect(right == p.right, p.what);
    }

    int d[THREADS];
    CUDA_LAUNCH_SMEM(dynamic_kernel, 1, THREADS, 64 << 10, 0, d);
    expect(cudaGetLastError() == cudaErrorInvalidValue && *emu_last_failure(),
           "64 KB of dynamic shared memory without cudaFuncSetAttribute: refused");
    expect(cudaFuncSetAttribute(reinterpret_cast<const void *>(dynamic_kernel),
                                cudaFuncAttributeMaxDynamicSharedMemorySize, 64 << 10) == cudaSuccess,
           "cudaFuncSetAttribute(MaxDynamicSharedMemorySize, 64 KB) accepted");
    CUDA_LAUNCH_SMEM(dynamic_kernel, 1, THREADS, 64 << 10, 0, d);
    bool right = cudaGetLastError() == cudaSuccess;
    for (int t = 0; t < THREADS; t++) right = right && d[t] == (t + 1) % THREADS;
    expect(right, "dynamic shared memory after the attribute: every thread reads its neighbour");
    return failures ? 1 : 0;
}
