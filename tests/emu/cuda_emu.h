/* The CUDA device environment as host C++, so that the kernels (the .cu files of src/backend/cuda)
 * compile with g++ and run on a CPU with CUDA semantics (force-included before each kernel file, with
 * WEBSSL_CUDA_EMU defined; src/backend/cuda/cuda_ptx.h then takes its twins from here).
 *
 * - Each CUDA thread is a fiber (emu_runtime.cpp); the blocks of a launch run one after another,
 *   the threads of a block interleave at every synchronising operation, in the order of the
 *   current schedule (emu_control.h), so a missing barrier changes the result.
 * - __shared__ variables are function statics: one instance per kernel, which the threads of the
 *   running block share, as they share a block's shared memory on the device. Dynamic shared
 *   memory (CUDA_DYNAMIC_SHARED, the bytes given to CUDA_LAUNCH_SMEM) is one buffer per launch, of
 *   that size (AddressSanitizer reports an access past it), filled with 0xff bytes (NaN as f32
 *   and bf16) at its start; a launch asking for more than 48 KB fails unless
 *   cudaFuncSetAttribute(MaxDynamicSharedMemorySize) allowed it for that kernel.
 * - __syncthreads() is a block barrier that reports divergence (threads waiting at different
 *   barriers) and deadlock (threads blocked for ever) as a failed launch.
 * - Warp shuffles, mma.sync and ldmatrix are warp-wide operations: every lane named in the mask
 *   must arrive at the same instruction before any of them continues; the operation then reads
 *   all lanes' registers at once, as the hardware does, by the PTX ISA's fragment layouts.
 * - A failed launch makes the launcher's cudaGetLastError() return cudaErrorLaunchFailure;
 *   emu_last_failure() says what happened.
 * - A launch copies its arguments and runs on its stream (emu_cudart.cpp): at once, or at each
 *   replay of a graph when the stream is being captured. */
#ifndef WEBSSL_TESTS_EMU_CUDA_EMU_H
#define WEBSSL_TESTS_EMU_CUDA_EMU_H

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>

#include "emu_control.h"

/* g++ sees the toolkit's __shared__ as an empty annotation: make it one instance per kernel. */
#undef __shared__
#define __shared__ static
#define __launch_bounds__(...)

/* The built-in index variables of the running thread (set by the scheduler at every switch). */
extern uint3 emu_thread_idx, emu_block_idx;
extern dim3 emu_block_dim, emu_grid_dim;
#define threadIdx emu_thread_idx
#define blockIdx emu_block_idx
#define blockDim emu_block_dim
#define gridDim emu_grid_dim

static inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }

/* Runs body(ctx) as every thread of every block of a grid x block launch with `smem` bytes of
 * dynamic shared memory; `key` (the kernel's address) finds the limit set by cudaFuncSetAttribute.
 * Returns the launch's status (also left for cudaGetLastError). */
cudaError_t emu_launch(const char *kernel, const void *key, dim3 grid, dim3 block, size_t smem,
                       void (*body)(void *), void *ctx);

/* Leaves e for the next cudaGetLastError (emu_runtime.cpp), as a failing runtime call does. */
void emu_record_error(cudaError_t e);

/* Work on `stream` (emu_cudart.cpp): runs op at once, or records it when the stream is being
 * captured (cudaStreamBeginCapture), to run at each launch of the graph. The status of the call
 * (op's, or why it could not be enqueued). */
cudaError_t emu_stream_enqueue(cudaStream_t stream, std::function<cudaError_t()> op);
/* 1 when [p, p + bytes) lies inside one cudaMalloc allocation. */
int emu_is_device(const void *p, size_t bytes);

/* A launch on `stream` through emu_stream_enqueue; its status is left for cudaGetLastError. */
void emu_stream_launch(cudaStream_t stream, const char *kernel, const void *key, dim3 grid, dim3 block, size_t smem,
                       std::function<void()> fn);

/* The kernel's arguments are converted to its parameter types and copied when it is launched, as
 * CUDA does, so that a recorded launch replays with the values of its launch. */
template <typename... P, typename... A>
static inline void emu_launch_kernel(const char *name, const void *key, dim3 grid, dim3 block, size_t smem,
                                     cudaStream_t stream, void (*kernel)(P...), A &&...args) {
    std::tuple<typename std::decay<P>::type...> copy(std::forward<A>(args)...);
    emu_stream_launch(stream, name, key, grid, block, smem, [kernel, copy]() { std::apply(kernel, copy); });
}

#define CUDA_LAUNCH(kernel, grid, block, stream, ...) \
    emu_launch_kernel(#kernel, nullptr, dim3(grid), dim3(block), 0, (stream), kernel, __VA_ARGS__)
#define CUDA_LAUNCH_SMEM(kernel, grid, block, smem, stream, ...)                                              \
    emu_launch_kernel(#kernel, reinterpret_cast<const void *>(kernel), dim3(grid), dim3(block), (smem), (stream), \
                      kernel, __VA_ARGS__)

/* The running launch's dynamic shared memory (16-byte aligned). */
void *emu_dynamic_shared(void);
#define CUDA_DYNAMIC_SHARED(name) unsigned char *const name = static_cast<unsigned char *>(emu_dynamic_shared())

void emu_syncthreads(const char *file, int line);
#define __syncthreads() emu_syncthreads(__FILE__, __LINE__)

/* A warp-wide operation: each lane of `mask` passes its operands `in` and result buffer `out`;
 * when the last lane arrives, fn(in, out, mask) runs once with every lane's pointers (NULL for
 * lanes outside the mask), then all lanes continue. */
typedef void (*emu_warp_fn)(const void *const in[32], void *const out[32], uint32_t mask);
void emu_warp_op(const char *what, uint32_t mask, emu_warp_fn fn, const void *in, void *out, const char *file,
                 int line);

enum { EMU_SHFL_XOR, EMU_SHFL_IDX };
uint32_t emu_shfl(int kind, uint32_t mask, uint32_t v, int arg, const char *file, int line);

template <typename T>
static inline T emu_shfl_t(int kind, uint32_t mask, T v, int arg, const char *file, int line) {
    static_assert(sizeof(T) == 4, "the emulator shuffles 32-bit values");
    uint32_t u;
    memcpy(&u, &v, 4);
    u = emu_shfl(kind, mask, u, arg, file, line);
    memcpy(&v, &u, 4);
    return v;
}
#define __shfl_xor_sync(mask, v, lanemask) emu_shfl_t(EMU_SHFL_XOR, (mask), (v), (lanemask), __FILE__, __LINE__)
#define __shfl_sync(mask, v, src) emu_shfl_t(EMU_SHFL_IDX, (mask), (v), (src), __FILE__, __LINE__)
#define __syncwarp(...) emu_warp_op("__syncwarp", 0xffffffffu, NULL, NULL, NULL, __FILE__, __LINE__)

/* Twins of src/backend/cuda/cuda_ptx.h. */
void emu_mma_bf16_16816(float d[4], const uint32_t a[4], uint32_t b0, uint32_t b1, const char *file, int line);
#define ptx_mma_bf16_16816(d, a, b0, b1) emu_mma_bf16_16816((d), (a), (b0), (b1), __FILE__, __LINE__)
void emu_ldmatrix_x4(uint32_t r[4], const void *smem, bool trans, const char *file, int line);
#define ptx_ldmatrix_x4(r, p) emu_ldmatrix_x4((r), (p), false, __FILE__, __LINE__)
#define ptx_ldmatrix_x4_trans(r, p) emu_ldmatrix_x4((r), (p), true, __FILE__, __LINE__)
/* cp.async: a thread's copies land in shared memory only when that thread waits for their group
 * (the latest the hardware may complete them), so a read before the wait sees the old contents;
 * under the eager schedule they land at issue (the earliest), so a copy into a buffer that other
 * threads still read shows up there. */
void emu_cp_async_16(void *smem, const void *gmem, int src_bytes, const char *file, int line);
void emu_cp_async_commit(void);
void emu_cp_async_wait(int n);
#define ptx_cp_async_16(d, s, n) emu_cp_async_16((d), (s), (n), __FILE__, __LINE__)
#define ptx_cp_async_commit() emu_cp_async_commit()
template <int N>
static inline void ptx_cp_async_wait_group(void) {
    emu_cp_async_wait(N);
}

#endif
