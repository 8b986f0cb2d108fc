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

#endif
