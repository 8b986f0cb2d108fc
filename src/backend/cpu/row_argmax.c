/* CPU arg-max per row (the nearest-centroid step of k-means after the GEMM), rows split over the
 * OpenMP threads. One pass over the row in 32 lanes (four vectors of 8, GCC vector extensions: AVX2
 * in the x86-64-v3 clone, SSE pairs in the baseline one); lane l sees columns l, l + 32, ... in
 * order and keeps the first of equal values (a strict >, so a NaN never wins), then the lanes are
 * merged: the largest value, the lowest column among the lanes holding it; the columns past the
 * last whole 32 follow in order. A row with nothing above -inf takes its first -inf (a
 * second scan, only then); a row of NaNs gives column -1 and value NaN. The rule of the CUDA kernel (row_argmax.cu), with
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

/* One step of a chain of 8 lanes over the columns at n0 + off: the lanes holding a larger value
 * take it and its column. */
#define STEP(b, i, c, off)                                  \
    do {                                                    \
        vf8 v;                                              \
        memcpy(&v, s + n0 + (off), sizeof v);               \
        const vi8 t = v > (b);                              \
        (b) = PICK_F(t, v, b), (i) = PICK_I(t, c + (off), i); \
    } while (0)
/* Chain a takes chain b's lanes where they hold a larger value, or the same in a lower column.
 * Lanes that took nothing hold (-inf, -1): they lose to any other, and a row left at -inf is
 * settled by the scan at the end. */
#define MERGE(ba, ia, bb, ib)                                            \
    do {                                                                 \
        const vi8 t = ((bb) > (ba)) | (((bb) == (ba)) & ((ib) < (ia)));  \
        (ba) = PICK_F(t, bb, ba), (ia) = PICK_I(t, ib, ia);              \
    } while (0)

/* Four independent chains of 8 lanes (32 columns a step): a compare and a blend wait on the last
 * step's, so one chain would run at their latency. */
CPU_HOT static int32_t argmax_row(const float *s, int N, float *val) {
    const vf8 ninf = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    const vi8 none = {-1, -1, -1, -1, -1, -1, -1, -1};
    vf8 b0 = ninf, b1 = ninf, b2 = ninf, b3 = ninf;
    vi8 i0 = none, i1 = none, i2 = none, i3 = none, c = {0, 1, 2, 3, 4, 5, 6, 7};
    int n0 = 0;
    for (; n0 + 32 <= N; n0 += 32, c += 32) {
        STEP(b0, i0, c, 0);
        STEP(b1, i1, c, 8);
        STEP(b2, i2, c, 16);
        STEP(b3, i3, c, 24);
    }
    MERGE(b0, i0, b1, i1);
    MERGE(b2, i2, b3, i3);
    MERGE(b0, i0, b2, i2);
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
