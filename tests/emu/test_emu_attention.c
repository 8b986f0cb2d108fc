/* The attention kernels of src/backend/cuda/attention_flash.cu, run on the CPU by the kernel
 * emulator (cuda_emu.h), against the CPU twin (src/backend/cpu/attention.c) on random inputs, under
 * each thread schedule. Prints max abs and relative error per shape and schedule; a mismatch fails
 * with "> tolerance", a failed launch with the emulator's reason. One test case per kernel and
 * length, so that CK_RUN_CASE picks one (the planted-defect tests in CMakeLists.txt run the short
 * ones): attention_mma and attention_mma_long (the tensor-core kernel; the long one is left out
 * of the sanitizer build), attention_simt (the CUDA-core kernel).
 *
 * Tolerances, as tests/gpu: max abs error / max |ref| <= 2e-2 with bf16 rounding (the kernel
 * rounds unnormalised probabilities to bf16, the CPU normalised ones; a bf16 output adds one
 * rounding, at most 2^-9 of |ref|), 1e-4 for exact f32 (another summation order and an online
 * softmax). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/cuda/cuda_kernels.h"
#include "common/dtype.h"
#include "common/error.h"
#include "emu_check.h"

static ws_backend *cpu;
static uint64_t seed = 0x9e3779b97f4a7c15ull;

/* The CPU twin, f32 in and out (q, k, v and the probabilities rounded to bf16 with round_bf16). */
static void cpu_attention_ref(float *out, const float *qkv, int B, int N, int NH, int hs, int round_bf16) {
    const int rc = cpu->ops->attention(cpu, out, qkv, WS_DTYPE_F32, B, N, NH, hs, round_bf16);
    ck_assert_msg(rc == WS_OK, "CPU attention: %s", ws_error_message());
}

static void setup(void) { ck_assert_int_eq(backend_cpu_create(1, &cpu), WS_OK); }
static void teardown(void) { backend_free(cpu); }

/* One shape through cuda_attention with dtype dt (bf16: q, k, v given as bf16, the output read
 * back as bf16) against the CPU twin, under every schedule. */
static void check_attention(ws_dtype dt, int round_bf16, int B, int N, int NH, int hs, double tol) {
    const size_t Cl = (size_t)NH * hs, nq = (size_t)B * N * 3 * Cl, no = (size_t)B * N * Cl, es = ws_dtype_size(dt);
    float *qkv = gpu_random(nq, 2.0f, &seed), *ref = malloc(no * sizeof(float)), *got = malloc(no * sizeof(float));
    /* 16-byte aligned, as cudaMalloc's buffers are (the tensor-core kernel copies 16 bytes at a time). */
    void *in = aligned_alloc(16, (nq * es + 15) / 16 * 16), *out = malloc(no * es);
    ws_convert_from_f32(in, dt, qkv, nq);
    cpu_attention_ref(ref, qkv, B, N, NH, hs, dt == WS_DTYPE_BF16 || round_bf16);
    char name[96];
    snprintf(name, sizeof name, "attention %s%s B=%d N=%d NH=%d hs=%d", ws_dtype_name(dt),
             dt == WS_DTYPE_F32 && round_bf16 ? "+round" : "", B, N, NH, hs);
    EMU_FOR_EACH_SCHEDULE(s) {
        memset(out, 0xff, no * es);   /* NaN in f32 and bf16: every output must be written */
        emu_check_launch(name, cuda_attention(out, in, dt, B, N, NH, hs, round_bf16, NULL));
        ws_convert_to_f32(got, out, dt, no);
        emu_check_close(name, s, ref, got, no, (size_t)B * N * NH, tol);
    }
    free(qkv), free(ref), free(got), free(in), free(out);
}

START_TEST(test_attention_mma) {
    /* 128-row query tiles and 64-key tiles (two pipeline stages): 5 and 17 tokens are one partial
     * tile (one wrongly admitted padding key moves every output far past the tolerance), 128 is
     * two full key tiles and one full query tile, 131 ends in a 3-key tile and a query tile of 3
     * rows (warps with no rows), 197 and 257 are the published token counts (4 and 5 key tiles,
     * so each stage is refilled); 5 and 7 heads are uneven tensor-parallel splits. */
    const struct {
        int B, N, NH;
    } shapes[] = {{2, 5, 5}, {1, 17, 7}, {1, 128, 1}, {1, 131, 2}, {1, 197, 1}, {1, 257, 1}};
    const int hs[] = {64, 80, 128};
    for (int i = 0; i < 3; i++)
        for (size_t j = 0; j < sizeof shapes / sizeof shapes[0]; j++)
            check_attention(WS_DTYPE_BF16, 1, shapes[j].B, shapes[j].N, shapes[j].NH, hs[i], 2e-2);
    /* f32 activations rounded to bf16 on the way into shared memory. */
    for (int i = 0; i < 3; i++) check_attention(WS_DTYPE_F32, 1, 1, 131, 1, hs[i], 2e-2);
}
END_TEST

START_TEST(test_attention_mma_long) {
    /* Long sequences: 1025 tokens (9 query tiles, 17 key tiles with one key in the last) at hs 64,
     * 1370 (the 7B model at 518 px: 11 and 22 tiles) at hs 128. */
    check_attention(WS_DTYPE_BF16, 1, 1, 1025, 1, 64, 2e-2);
    check_attention(WS_DTYPE_BF16, 1, 1, 1370, 1, 128, 2e-2);
}
END_TEST

START_TEST(test_attention_simt) {
    /* The CUDA-core kernel (512 threads a block, a shuffle per key: the slowest to emulate, so
     * small shapes): exact f32 at every head size, bf16 rounding at a head size the tensor-core
     * kernel lacks, with f32 and bf16 activations; 16-row query blocks and 32-key chunks, so 70
     * and 33 end in partial ones. */
    const int hs[] = {64, 80, 128, 48};
    for (int i = 0; i < 4; i++) check_attention(WS_DTYPE_F32, 0, 1, 70, 1, hs[i], 1e-4);
    check_attention(WS_DTYPE_F32, 0, 2, 33, 3, 48, 1e-4);
    check_attention(WS_DTYPE_F32, 1, 1, 70, 1, 48, 2e-2);
    check_attention(WS_DTYPE_BF16, 1, 1, 33, 2, 48, 2e-2);
    /* Refused: a head size past 128, a dtype other than f32 and bf16. */
    ck_assert_int_eq(cuda_attention(NULL, NULL, WS_DTYPE_F32, 1, 5, 1, 136, 0, NULL), cudaErrorInvalidValue);
    ck_assert_int_eq(cuda_attention(NULL, NULL, WS_DTYPE_F16, 1, 5, 1, 64, 1, NULL), cudaErrorInvalidValue);
}
END_TEST

int main(void) {
    const test_case cases[] = {
        {"attention_mma", test_attention_mma},
        {"attention_mma_long", test_attention_mma_long},
        {"attention_simt", test_attention_simt},
    };
    return test_run_cases("emu_attention", cases, sizeof cases / sizeof cases[0], setup, teardown, 600);
}
