/* OpenBLAS's kernels against the CPU they run on. OpenBLAS (built with DYNAMIC_ARCH, as Debian's
 * is) picks its kernels once, when the library is loaded, from the CPU models it knows; a CPU
 * newer than the library (e.g. Intel family 6 model 207 for OpenBLAS 0.3.21) falls back to its
 * generic SSE3 kernels ("Prescott"), which run the f32 GEMMs 3 to 4 times slower than the AVX2 or
 * AVX-512 kernels the same CPU can run (docs/performance.md). OPENBLAS_CORETYPE overrides the
 * choice, but only when it is set before the library loads, so the fix has to happen before main
 * runs anything: backend_cpu_blas_fix (called first in main) sets it and executes the program
 * again (/proc/self/exe, same argv and environment) when the user has not set it and the loaded
 * kernels lack the AVX2 that the CPU has. A value the user set is always kept. */
#include "backend/backend.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

char *openblas_get_corename(void);

const char *backend_cpu_blas_core_wanted(const char *core, int avx2_fma, int avx512) {
    /* OpenBLAS's names of its kernel sets with AVX2 or wider (0.3.x, x86-64). */
    static const char *const wide[] = {"Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids"};
    if (!core || !avx2_fma) return NULL;
    for (size_t i = 0; i < sizeof wide / sizeof wide[0]; i++)
        if (!strcasecmp(core, wide[i])) return NULL;
    return avx512 ? "SkylakeX" : "Haswell";
}

void backend_cpu_blas_fix(char **argv) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (getenv("OPENBLAS_CORETYPE")) return;
    __builtin_cpu_init();
    const int avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    const int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                       __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    const char *want = backend_cpu_blas_core_wanted(openblas_get_corename(), avx2_fma, avx512);
    if (!want || setenv("OPENBLAS_CORETYPE", want, 1)) return;
    execv("/proc/self/exe", argv);
    /* Not reached unless exec failed (no /proc): run on with the kernels loaded. */
    unsetenv("OPENBLAS_CORETYPE");
#else
    (void)argv;
#endif
}
