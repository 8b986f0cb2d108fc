/* expf and erff for loops marked `#pragma omp simd`: with these declarations GCC calls the vector
 * variants in glibc's libmvec (8 lanes in the AVX2 clone of a CPU_HOT function, 4 in the baseline
 * one; within 4 ulp of the scalar functions, glibc's manual) instead of one scalar call per
 * element. glibc's <math.h> declares them only under -ffast-math (bits/math-vector.h), which this
 * project does not use because it would also reorder every other reduction. Softmax and SiLU
 * call expf once per score and per hidden unit: the vector calls made the forward pass 1.1x
 * faster at 224 px and 1.3x at 518 px (docs/performance.md). Without libmvec (other C libraries, other
 * architectures) the loops call the scalar functions. */
#ifndef WEBSSL_BACKEND_CPU_VECTOR_MATH_H
#define WEBSSL_BACKEND_CPU_VECTOR_MATH_H

#include <math.h>

#ifdef WEBSSL_HAVE_LIBMVEC
#pragma omp declare simd notinbranch
float expf(float);
#pragma omp declare simd notinbranch
float erff(float);
#endif

/* A vectorised loop over n elements still ends in a scalar remainder loop (n % lanes elements,
 * one scalar expf or erff call each: 1.6 % of a bf16 pass in softmax rows of 261 scores). The
 * callers therefore run their exponentials in blocks of WS_VBLOCK elements, a loop with a constant
 * trip count (whole vectors only), and the last n % WS_VBLOCK elements through one more block on
 * a padded copy. */
enum { WS_VBLOCK = 16 };

/* x[j] = expf(x[j] * a - b) for j < n (a > 0); returns their sum. Always inlined, so that it runs
 * in the vector width of the caller's clone (CPU_HOT). */
__attribute__((always_inline)) static inline float ws_exp_sum(float *x, int n, float a, float b) {
    float sum = 0.0f, t[WS_VBLOCK];
    int j0 = 0;
    for (; j0 + WS_VBLOCK <= n; j0 += WS_VBLOCK) {
        float *xb = x + j0;
        #pragma omp simd reduction(+ : sum)
        for (int j = 0; j < WS_VBLOCK; j++) {
            xb[j] = expf(xb[j] * a - b);
            sum += xb[j];
        }
    }
    if (j0 == n) return sum;
    for (int j = 0; j < WS_VBLOCK; j++) t[j] = j0 + j < n ? x[j0 + j] : -INFINITY;   /* expf: 0 */
    #pragma omp simd reduction(+ : sum)
    for (int j = 0; j < WS_VBLOCK; j++) {
        t[j] = expf(t[j] * a - b);
        sum += t[j];
    }
    for (int j = 0; j0 + j < n; j++) x[j0 + j] = t[j];
    return sum;
}

#endif
