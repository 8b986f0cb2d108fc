/* CPU attention core, one (image, head) per task and per OpenMP thread: S = q k^T / sqrt(hs) (the
 * thread's one N x N score matrix), row softmax in f32, out = S v. The two products are
 * single-threaded BLAS calls that read q, k, v in place from the packed qkv rows (leading dimension
 * 3*NH*hs) and write the head's columns of `out` directly. The softmax loops are `omp simd`, its
 * exponentials libmvec's (vector_math.h). With round_bf16, q, k, v are first
 * rounded to bf16 (one pass over qkv into scratch) and so are the probabilities. bf16 qkv is
 * widened into that scratch (its values are bf16 already); a bf16 `out` is written through an f32
 * copy in scratch, rounded once at the end. All of it is one parallel region: the passes over qkv
 * and out are worksharing loops, with a barrier between them and the heads. */
#include "backend/cpu/cpu.h"
#include "backend/cpu/cpu_memory.h"
#include "backend/cpu/vector_math.h"
#include "common/error.h"

#include <cblas.h>

CPU_HOT static void softmax_rows(float *S, int N, int round_bf16) {
    for (int i = 0; i < N; i++) {
        float *sr = S + (size_t)i * N;
        float mx = -INFINITY;
        #pragma omp simd reduction(max : mx)
        for (int j = 0; j < N; j++) mx = sr[j] > mx ? sr[j] : mx;
        const float inv = 1.0f / ws_exp_sum(sr, N, 1.0f, mx);
        if (round_bf16) {
            #pragma omp simd
            for (int j = 0; j < N; j++) sr[j] = ws_bf16_to_f32(ws_f32_to_bf16(sr[j] * inv));
        } else {
            #pragma omp simd
            for (int j = 0; j < N; j++) sr[j] *= inv;
        }
    }
}

size_t cpu_attention_thread_bytes(int N) { return (size_t)N * (size_t)N * sizeof(float); }

int cpu_attention(ws_backend *be, void *out, const void *qkv, ws_dtype dt, int B, int N, int NH,
                  int hs, int round_bf16) {
    const cpu_state *st = be->impl;
    if (round_bf16 && st->attention_bf16) return st->attention_bf16(be, out, qkv, dt, B, N, NH, hs);
    const size_t Cl = (size_t)NH * hs, ld = 3 * Cl, BN = (size_t)B * N;
    const int bf16 = dt == WS_DTYPE_BF16, copy_in = bf16 || round_bf16;
    const size_t in_elems = copy_in ? BN * ld : 0, out_elems = bf16 ? BN * Cl : 0;
    float *scratch = NULL;
    if (in_elems + out_elems) {
        const size_t bytes = (in_elems + out_elems) * sizeof(float);
        if (!(scratch = cpu_scratch(be, bytes)))
            return ws_errorf(WS_ERR_NOMEM, "cpu attention (B=%d N=%d NH=%d hs=%d %s): cannot allocate "
                             "%zu bytes of scratch", B, N, NH, hs, ws_dtype_name(dt), bytes);
    }
    const float *src = copy_in ? scratch : qkv;
    float *dst = bf16 ? scratch + in_elems : out;
    const float scale = 1.0f / sqrtf((float)hs);
    int failed = cpu_thread_slots(be);
    if (failed != WS_OK) return failed;
    #pragma omp parallel
    {
        if (bf16) cpu_widen(scratch, qkv, in_elems);
        else if (copy_in) cpu_round_bf16(scratch, qkv, in_elems);
        float *S = cpu_thread_scratch(be, cpu_attention_thread_bytes(N));
        if (!S) {
            #pragma omp atomic write
            failed = 1;
        }
        #pragma omp for collapse(2) schedule(dynamic)
        for (int b = 0; b < B; b++)
            for (int h = 0; h < NH; h++) {
                if (!S) continue;
                const float *q = src + (size_t)b * N * ld + (size_t)h * hs, *k = q + Cl, *v = k + Cl;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, N, hs, scale, q, (int)ld, k,
                            (int)ld, 0.0f, S, N);
                softmax_rows(S, N, round_bf16);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, hs, N, 1.0f, S, N, v, (int)ld,
                            0.0f, dst + (size_t)b * N * Cl + (size_t)h * hs, (int)Cl);
            }
        if (bf16) {   /* after the heads loop's barrier: every row of dst is complete */
            size_t r0, r1;
            cpu_thread_rows(BN, &r0, &r1);
            cpu_epilogue(out, WS_DTYPE_BF16, dst, WS_EPILOGUE_NONE, (int)r0, (int)r1, 0, (int)Cl, (int)Cl);
        }
    }
    if (failed)
        return ws_errorf(WS_ERR_NOMEM, "cpu attention (B=%d N=%d NH=%d hs=%d): cannot allocate a %d x %d "
                         "score matrix per thread", B, N, NH, hs, N, N);
    return WS_OK;
}
