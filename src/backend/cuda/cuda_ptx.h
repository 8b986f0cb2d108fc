/* The one place where the CUDA kernels touch the hardware beyond plain CUDA C++: the kernel
 * launch (CUDA_LAUNCH), dynamic shared memory (CUDA_LAUNCH_SMEM, CUDA_DYNAMIC_SHARED) and every
 * inline-PTX instruction (ptx_*). Kernels use only these names,
 * so that tests/emu can compile the same .cu files as host C++ with CUDA semantics: there,
 * WEBSSL_CUDA_EMU is defined and tests/emu/cuda_emu.h supplies a host twin of each entry,
 * written from the PTX ISA's definition of the instruction (fragment layouts included).
 *
 *   CUDA_LAUNCH(kernel, grid, block, stream, args...)   kernel<<<grid, block, 0, stream>>>(args...)
 *   CUDA_LAUNCH_SMEM(kernel, grid, block, smem, stream, args...)   the same with smem bytes of
 *       dynamic shared memory (over 48 KB only after cudaFuncSetAttribute(kernel,
 *       cudaFuncAttributeMaxDynamicSharedMemorySize, bytes)); kernel may be a function pointer.
 *   CUDA_DYNAMIC_SHARED(name)   in a kernel: unsigned char name[], the block's dynamic shared
 *       memory (extern __shared__), 16-byte aligned; cast to the kernel's layout.
 *   ptx_mma_bf16_16816(d, a, b0, b1)   d[4] += A . B, mma.sync.aligned.m16n8k16.row.col
 *       .f32.bf16.bf16.f32, one warp-wide instruction: A 16x16 bf16 row-major in a[4], B 16x8
 *       bf16 column-major in b0, b1, C = D 16x8 f32 in d[4], each lane holding the elements the
 *       PTX ISA assigns it ("Matrix Fragments for mma.m16n8k16 with floating point type").
 *   ptx_ldmatrix_x4(r, p)   ldmatrix.sync.aligned.m8n8.x4.shared.b16, warp-wide: four 8x8 b16
 *       matrices in shared memory; lane l gives p = the address of row l % 8 of matrix l / 8 (16
 *       bytes, 16-byte aligned) and receives in r[i] elements (l / 4, 2 (l % 4)) and
 *       (l / 4, 2 (l % 4) + 1) of matrix i, lower column in the low half: an A fragment of mma
 *       from rows, or two B fragments from the rows of B^T.
 *   ptx_ldmatrix_x4_trans(r, p)   the same with .trans: r[i] holds elements (2 (l % 4), l / 4)
 *       and (2 (l % 4) + 1, l / 4) of matrix i (B fragments from the rows of a row-major B).
 *   ptx_cp_async_16(dst, src, n)   cp.async.cg.shared.global, per thread: copies 16 bytes from
 *       global src to shared dst (both 16-byte aligned) in the background, the first n (0..16)
 *       from src and the rest zeros (n = 0: a zero row past the end of a tile without reading).
 *   ptx_cp_async_commit()   closes this thread's group of copies issued since the last commit.
 *   ptx_cp_async_wait_group<N>()   waits until at most N of this thread's committed groups are in
 *       flight; other threads' copies are visible only after a barrier that follows their wait. */
#ifndef WEBSSL_BACKEND_CUDA_CUDA_PTX_H
#define WEBSSL_BACKEND_CUDA_CUDA_PTX_H

#include <stdint.h>

#ifdef WEBSSL_CUDA_EMU
#include "cuda_emu.h"
#else

#define CUDA_LAUNCH(kernel, grid, block, stream, ...) kernel<<<(grid), (block), 0, (stream)>>>(__VA_ARGS__)
#define CUDA_LAUNCH_SMEM(kernel, grid, block, smem, stream, ...) \
    kernel<<<(grid), (block), (smem), (stream)>>>(__VA_ARGS__)
#define CUDA_DYNAMIC_SHARED(name) extern __shared__ __align__(16) unsigned char name[]

static __device__ __forceinline__ void ptx_mma_bf16_16816(float d[4], const uint32_t a[4], uint32_t b0,
                                                          uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
                 "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

static __device__ __forceinline__ void ptx_ldmatrix_x4(uint32_t r[4], const void *smem) {
    const uint32_t a = (uint32_t)__cvta_generic_to_shared(smem);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a));
}

static __device__ __forceinline__ void ptx_ldmatrix_x4_trans(uint32_t r[4], const void *smem) {
    const uint32_t a = (uint32_t)__cvta_generic_to_shared(smem);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a));
}

static __device__ __forceinline__ void ptx_cp_async_16(void *smem, const void *gmem, int src_bytes) {
    const uint32_t a = (uint32_t)__cvta_generic_to_shared(smem);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(a), "l"(gmem), "r"(src_bytes));
}

static __device__ __forceinline__ void ptx_cp_async_commit(void) { asm volatile("cp.async.commit_group;\n" ::); }

template <int N>
static __device__ __forceinline__ void ptx_cp_async_wait_group(void) {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

#endif
#endif
