/* The CPU's SIMD features that decide the GEMM paths, as one printable line for bench, the embed
 * summary and the logs, and its vendor where the paths' speeds differ by it. The compiler's runtime (libgcc / compiler-rt) reads CPUID and checks that
 * the OS saves the vector state, so a feature listed here is usable, not just reported. */
#include "backend/cpu/cpu.h"

#include <stdio.h>
#include <string.h>

void cpu_features_describe(char *buf, size_t n) {
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    const struct { const char *name; int on; } f[] = {
        {"avx2", __builtin_cpu_supports("avx2")},
        {"fma", __builtin_cpu_supports("fma")},
        {"avx512f", __builtin_cpu_supports("avx512f")},
        {"avx512bf16", __builtin_cpu_supports("avx512bf16")},
    };
    size_t used = 0;
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].on && used < n)
            used += (size_t)snprintf(buf + used, n - used, "%s%s", used ? " " : "", f[i].name);
    if (!used) snprintf(buf, n, "baseline x86-64 (no avx2 fma avx512f avx512bf16)");
#else
    snprintf(buf, n, "not x86-64");
#endif
}

int cpu_vendor_amd(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    return __builtin_cpu_is("amd");
#else
    return 0;
#endif
}
