/* CPU attention core, one (image, head) per task and per OpenMP thread: S = q k^T / sqrt(hs) (the
 * thread's one N x N score matrix), row softmax in f32, out = S v. The two products are
 * single-threaded BLAS calls that read q, k, v in place from the packed qkv rows (leading dimension
 * 3*NH*hs) and write the head's columns of `out` directly. With round_bf16, q, k, v are first
 * rounded to bf16 (one pass over qkv into scratch) and so are the probabilities. */
#include "backend/cpu/cpu.h"
#include "backend/cpu/cpu_memory.h"
#include "common/check.h"

#include <cblas.h>
#include <math.h>

CPU_HOT static void softmax_rows(float *S, int N, int round_bf16) {
    for (int i = 0; i < N; i++) {
        float *sr = S + (size_t)i * N;
        float mx = -INFINITY, sum = 0.0f;
        for (int j = 0; j < N; j++) mx = sr[j] > mx ? sr[j] : mx;
        for (int j = 0; j < N; j++) {
            sr[j] = expf(sr[j] - mx);
            sum += sr[j];
        }
        const float inv = 1.0f / sum;
        if (round_bf16)
            for (int j = 0; j < N; j++) sr[j] = ws_bf16_to_f32(ws_f32_to_bf16(sr[j] * inv));
        else
            for (int j = 0; j < N; j++) sr[j] *= inv;
    }
}

CPU_HOT static void round_copy(float *dst, const float *src, size_t n) {
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) dst[i] = ws_bf16_to_f32(ws_f32_to_bf16(src[i]));
}

size_t cpu_attention_thread_bytes(int N) { return (size_t)N * (size_t)N * sizeof(float); }

void cpu_attention(ws_backend *be, float *out, const float *qkv, int B, int N, int NH, int hs,
                   int round_bf16) {
    const size_t Cl = (size_t)NH * hs, ld = 3 * Cl;
    if (round_bf16) {
        float *r = cpu_scratch(be, (size_t)B * N * ld * sizeof(float));
        WS_ASSERT(r != NULL);
        round_copy(r, qkv, (size_t)B * N * ld);
        qkv = r;
    }
    const float scale = 1.0f / sqrtf((float)hs);
    #pragma omp parallel
    {
        float *S = cpu_thread_scratch(be, cpu_attention_thread_bytes(N));
        WS_ASSERT(S != NULL);
        #pragma omp for collapse(2) schedule(dynamic)
        for (int b = 0; b < B; b++)
            for (int h = 0; h < NH; h++) {
                const float *q = qkv + (size_t)b * N * ld + (size_t)h * hs, *k = q + Cl, *v = k + Cl;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, N, hs, scale, q, (int)ld, k,
                            (int)ld, 0.0f, S, N);
                softmax_rows(S, N, round_bf16);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, hs, N, 1.0f, S, N, v, (int)ld,
                            0.0f, out + (size_t)b * N * Cl + (size_t)h * hs, (int)Cl);
            }
    }
}
