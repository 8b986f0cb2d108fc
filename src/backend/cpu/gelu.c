/* CPU GELU, exact erf form: x * 0.5 * (1 + erf(x / sqrt(2))), as nn.GELU() computes. */
#include "backend/cpu/cpu.h"

#include <math.h>

CPU_HOT void cpu_gelu(ws_backend *be, float *x, size_t n) {
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}
