/* The check shared by the tests that run the whole model on the CUDA backend (tests/gpu on a
 * device, tests/emu on the emulated runtime) against the CPU backend: the three outputs of a
 * forward pass compared tensor by tensor, with one error line printed per tensor. Tolerances:
 *   f32:  max abs err <= f32_tol * max |ref|, the caller's: the emulated backend and a GPU differ
 *         in exp/rsqrt, FMA contraction and cuBLASLt's summation order, so each measures its own
 *   bf16: cosine >= 0.999 for every token (CPU bf16 and GPU bf16 round the same tensors). */
#ifndef WEBSSL_TESTS_GPU_MODEL_COMPARE_H
#define WEBSSL_TESTS_GPU_MODEL_COMPARE_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/dtype.h"
#include "compare.h"

/* out[0] (CPU) against out[1] (CUDA), each {cls [B,C], patch_mean [B,C], patch [B,g2,C]}, named
 * "<label> <dtype> <tensor>"; f32 within f32_tol of max |ref|; frees the six buffers. */
static inline void model_compare_outputs(const char *label, ws_dtype dt, double f32_tol, float *out[2][3], int B,
                                         int g2, int C) {
    const char *names[3] = {"cls", "patch_mean", "patch"};
    for (int k = 0; k < 3; k++) {
        const size_t rows = (size_t)B * (k == 2 ? g2 : 1);
        char what[160];
        snprintf(what, sizeof what, "%s %s %s", label, ws_dtype_name(dt), names[k]);
        gpu_diff d = gpu_compare(what, out[0][k], out[1][k], rows * C, rows);
        if (dt == WS_DTYPE_F32) ck_assert_msg(d.rel <= f32_tol, "%s: rel err %.3e > %.0e", what, d.rel, f32_tol);
        else ck_assert_msg(d.min_cos >= 0.999, "%s: min cosine %.6f < 0.999", what, d.min_cos);
        free(out[0][k]);
        free(out[1][k]);
    }
}

#endif
