/* Every case of the op list (op_cases.h) on one backend, their speed, or the list itself.
 *   test_backend_ops [--backend cpu|cuda] [--case TEXT] [--perf [--seconds S] | --list]
 * Checks: the CPU backend against double-precision references, another backend against its CPU
 * twin (the reference's error printed too); one line per output with max abs and relative error,
 * exit status 1 when a case is past its tolerance. --perf: seconds per call and GFLOP/s (GEMMs,
 * attention) or GB/s (everything else, bytes read and written) per case, nothing checked.
 * --list: each case's name and the emulator's kernel test that runs it under every thread schedule
 * (its emu_case), and the count, nothing run. --case keeps the cases whose name contains TEXT.
 * Exits 77 (skip) for cuda without a device. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "common/error.h"
#include "op_cases.h"

int main(int argc, char **argv) {
    backend_cpu_blas_fix(argv);   /* OpenBLAS's kernels as webssl-dist runs them (backend/cpu/blas_core.c) */
    const char *backend = "cpu", *filter = NULL;
    int perf = 0, list = 0;
    double seconds = 0.2;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--backend") && i + 1 < argc) backend = argv[++i];
        else if (!strcmp(argv[i], "--case") && i + 1 < argc) filter = argv[++i];
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--perf")) perf = 1;
        else if (!strcmp(argv[i], "--list")) list = 1;
        else {
            fprintf(stderr, "usage: %s [--backend cpu|cuda] [--case TEXT] [--perf [--seconds S] | --list]\n",
                    argv[0]);
            return 1;
        }
    }
    size_t n, run = 0, failed = 0;
    const op_case *cases = op_cases(&n);
    if (list) {
        for (size_t i = 0; i < n; i++) {
            char name[200];
            op_case_name(&cases[i], name, sizeof name);
            if (filter && strstr(name, filter) == NULL) continue;
            printf("%-88s %s\n", name, cases[i].emu_case ? cases[i].emu_case : "-");
            run++;
        }
        printf("%zu cases\n", run);
        return 0;
    }
    if (strcmp(backend, "cpu") && backend_device_count(backend) <= 0) {
        printf("SKIP test_backend_ops: no %s device visible\n", backend);
        return 77;
    }
    ws_backend *cpu = NULL, *be = NULL;
    if (backend_create("cpu", 0, 0, &cpu) != WS_OK ||
        (strcmp(backend, "cpu") ? backend_create(backend, 0, 0, &be) : (be = cpu, WS_OK)) != WS_OK) {
        fprintf(stderr, "test_backend_ops: backend %s: %s\n", backend, ws_error_message());
        return 1;
    }
    char desc[320];
    for (int w = 0; w < 2; w++) be->ops->gemm_select(be, w ? WS_DTYPE_BF16 : WS_DTYPE_F32, WS_GEMM_MODEL, desc, sizeof desc);
    printf("backend %s: %s\n", backend, desc);
    for (size_t i = 0; i < n; i++) {
        char name[200], why[400];
        op_case_name(&cases[i], name, sizeof name);
        if (filter && !strstr(name, filter)) continue;
        run++;
        if (perf) {
            double flops, bytes, s = op_case_time(&cases[i], be, seconds, &flops, &bytes);
            if (flops > 0) printf("%-72s %10.1f us  %8.1f GFLOP/s\n", name, 1e6 * s, flops / s / 1e9);
            else printf("%-72s %10.1f us  %8.1f GB/s\n", name, 1e6 * s, bytes / s / 1e9);
        } else if (op_case_check(&cases[i], be, cpu, NULL, why, sizeof why)) {
            printf("FAIL %s\n", why);
            failed++;
        }
    }
    printf("%zu cases on %s%s, %zu failed\n", run, backend, perf ? " (timed)" : "", failed);
    if (be != cpu) backend_free(be);
    backend_free(cpu);
    return failed || run == 0 ? 1 : 0;
}
