/* CPU attention core, one (image, head) pair per task. Each thread copies the head's K
 * (transposed, [hs, N]) and V ([N, hs]) into its own buffers, then walks the queries QB rows at
 * a time: scores for QB rows (QB x N floats, never a full N x N matrix), softmax in f32, and the
 * weighted sum of V. The loops run along contiguous memory so the compiler vectorises them. */
#include "backend/cpu/cpu.h"
#include "common/check.h"

#include <math.h>
#include <stdlib.h>

enum { QB = 4 };

static inline float maybe_round(float x, int round_bf16) {
    return round_bf16 ? ws_bf16_to_f32(ws_f32_to_bf16(x)) : x;
}

CPU_HOT static void head_attention(float *out, const float *qkv, int N, int hs, size_t ld,
                                   size_t ldo, float *kt, float *v, float *s, int round_bf16) {
    const size_t Cl = ld / 3;
    const float scale = 1.0f / sqrtf((float)hs);
    for (int j = 0; j < N; j++) {
        const float *kr = qkv + (size_t)j * ld + Cl, *vr = kr + Cl;
        for (int d = 0; d < hs; d++) {
            kt[(size_t)d * N + j] = maybe_round(kr[d], round_bf16);
            v[(size_t)j * hs + d] = maybe_round(vr[d], round_bf16);
        }
    }
    for (int i0 = 0; i0 < N; i0 += QB) {
        const int nq = N - i0 < QB ? N - i0 : QB;
        for (int r = 0; r < nq; r++) {
            const float *q = qkv + (size_t)(i0 + r) * ld;
            float *sr = s + (size_t)r * N;
            for (int j = 0; j < N; j++) sr[j] = 0.0f;
            for (int d = 0; d < hs; d++) {
                const float qd = maybe_round(q[d], round_bf16);
                const float *kd = kt + (size_t)d * N;
                for (int j = 0; j < N; j++) sr[j] += qd * kd[j];
            }
            float mx = -INFINITY;
            for (int j = 0; j < N; j++) {
                sr[j] *= scale;
                mx = sr[j] > mx ? sr[j] : mx;
            }
            float sum = 0.0f;
            for (int j = 0; j < N; j++) {
                sr[j] = expf(sr[j] - mx);
                sum += sr[j];
            }
            const float inv = 1.0f / sum;
            for (int j = 0; j < N; j++) sr[j] = maybe_round(sr[j] * inv, round_bf16);
            float *o = out + (size_t)(i0 + r) * ldo;
            for (int d = 0; d < hs; d++) o[d] = 0.0f;
            for (int j = 0; j < N; j++) {
                const float p = sr[j];
                const float *vj = v + (size_t)j * hs;
                for (int d = 0; d < hs; d++) o[d] += p * vj[d];
            }
        }
    }
}

void cpu_attention(ws_backend *be, float *out, const float *qkv, int B, int N, int NH, int hs,
                   int round_bf16) {
    const size_t Cl = (size_t)NH * hs, ld = 3 * Cl;
    #pragma omp parallel
    {
        float *buf = malloc(((size_t)2 * hs * N + (size_t)QB * N) * sizeof(float));
        WS_ASSERT(buf != NULL);
        #pragma omp for collapse(2) schedule(dynamic)
        for (int b = 0; b < B; b++)
            for (int h = 0; h < NH; h++)
                head_attention(out + (size_t)b * N * Cl + (size_t)h * hs,
                               qkv + (size_t)b * N * ld + (size_t)h * hs, N, hs, ld, Cl, buf,
                               buf + (size_t)hs * N, buf + (size_t)2 * hs * N, round_bf16);
        free(buf);
    }
}
