/* CPU arg-max per row (the nearest-centroid step of k-means after the GEMM), rows split over the
 * OpenMP threads. One pass over the row in two vectors of 8 lanes (GCC vector extensions: AVX2 in
 * the x86-64-v3 clone, SSE pairs in the baseline one); lane l sees columns l, l + 16, ... in order
 * and keeps the first of equal values (a strict >, so a NaN never wins), then the lanes are merged:
 * the largest value, the lowest column among the lanes holding it; the columns past the last 16
 * follow in order. A row with nothing above -inf takes its first -inf (a second scan, only then);
 * a row of NaNs gives column -1 and value NaN. The rule of the CUDA kernel (row_argmax.cu), with
 * which it is tested identical. (The two-pass form, the largest then the first column equal to it,
 * read every row twice; a lane loop left to the auto-vectoriser kept its lanes in memory.) */
#include "backend/cpu/cpu.h"
#include "common/error.h"

#include <math.h>
#include <string.h>

typedef float vf8 __attribute__((vector_size(32)));
typedef int32_t vi8 __attribute__((vector_size(32)));

/* t ? a : b per lane (t all ones or all zeros); macros, as a function taking vectors would have
 * an ABI that depends on the clone. */
#define PICK_I(t, a, b) (((t) & (a)) | (~(t) & (b)))
#define PICK_F(t, a, b) ((vf8)PICK_I(t, (vi8)(a), (vi8)(b)))

CPU_HOT static int32_t argmax_row(const float *s, int N, float *val) {
    vf8 b0, b1, v0, v1;
    vi8 i0, i1, c0 = {0, 1, 2, 3, 4, 5, 6, 7}, c1 = c0 + 8;
    for (int l = 0; l < 8; l++) b0[l] = b1[l] = -INFINITY, i0[l] = i1[l] = -1;
    int n0 = 0;
    for (; n0 + 16 <= N; n0 += 16, c0 += 16, c1 += 16) {
        memcpy(&v0, s + n0, sizeof v0);
        memcpy(&v1, s + n0 + 8, sizeof v1);
        const vi8 t0 = v0 > b0, t1 = v1 > b1;
        b0 = PICK_F(t0, v0, b0), i0 = PICK_I(t0, c0, i0);
        b1 = PICK_F(t1, v1, b1), i1 = PICK_I(t1, c1, i1);
    }
    /* lanes that took nothing hold (-inf, -1): they lose to any other, and a row left at -inf is
     * settled by the scan at the end */
    const vi8 t = (b1 > b0) | ((b1 == b0) & (i1 < i0));
    b0 = PICK_F(t, b1, b0), i0 = PICK_I(t, i1, i0);
    float best = b0[0];
    int32_t bi = i0[0];
    for (int l = 1; l < 8; l++)
        if (b0[l] > best || (b0[l] == best && i0[l] < bi)) best = b0[l], bi = i0[l];
    for (int n = n0; n < N; n++)
        if (s[n] > best) best = s[n], bi = n;
    if (best == -INFINITY) {   /* nothing above -inf: the first -inf, or -1 for a row of NaNs */
        bi = -1;
        for (int n = 0; bi < 0 && n < N; n++)
            if (s[n] == -INFINITY) bi = n;
    }
    *val = bi < 0 ? NAN : s[bi];
    return bi;
}

int cpu_row_argmax(ws_backend *be, int32_t *idx, float *val, const float *scores, int M, int N) {
    (void)be;
    #pragma omp parallel for schedule(static)
    for (int m = 0; m < M; m++) idx[m] = argmax_row(scores + (size_t)m * N, N, val + m);
    return WS_OK;
}
