/* Counts OpenMP parallel regions (fork-joins of the thread pool) of a program, for the regions per
 * transformer block in docs/performance.md. Built as a library to preload:
 *   LD_PRELOAD=build/tests/bench/libgomp_count.so webssl-dist bench ...
 * It stands in for libgomp's entry points of `#pragma omp parallel` (GCC: GOMP_parallel and the
 * combined parallel-loop forms), counts each call, passes it on to libgomp, and at exit prints
 * "gomp_count: R regions (T calls)" on stderr: R counts the regions opened outside any other (the
 * pool's fork-joins), T every call, nested ones included (they run on one thread). oneDNN and
 * OpenBLAS builds that use libgomp are counted too. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <omp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static atomic_long outer, calls;

static void count(void) {
    atomic_fetch_add(&calls, 1);
    if (!omp_in_parallel()) atomic_fetch_add(&outer, 1);
}

static void *next(const char *name) {
    void *f = dlsym(RTLD_NEXT, name);
    if (!f) {
        fprintf(stderr, "gomp_count: %s not found in libgomp\n", name);
        abort();
    }
    return f;
}

__attribute__((destructor)) static void report(void) {
    fprintf(stderr, "gomp_count: %ld regions (%ld calls)\n", atomic_load(&outer), atomic_load(&calls));
}

typedef void (*body_fn)(void *);

void GOMP_parallel(body_fn fn, void *data, unsigned nthreads, unsigned flags) {
    static void (*real)(body_fn, void *, unsigned, unsigned);
    if (!real) real = next("GOMP_parallel");
    count();
    real(fn, data, nthreads, flags);
}

/* GOMP_parallel_loop_{static,dynamic,guided,runtime...}: same arguments but the schedule's */
#define LOOP(name)                                                                                   \
    void name(body_fn fn, void *data, unsigned nthreads, long start, long end, long incr, long chunk, \
              unsigned flags) {                                                                      \
        static void (*real)(body_fn, void *, unsigned, long, long, long, long, unsigned);            \
        if (!real) real = next(#name);                                                               \
        count();                                                                                     \
        real(fn, data, nthreads, start, end, incr, chunk, flags);                                    \
    }
LOOP(GOMP_parallel_loop_static)
LOOP(GOMP_parallel_loop_dynamic)
LOOP(GOMP_parallel_loop_guided)
LOOP(GOMP_parallel_loop_nonmonotonic_dynamic)
LOOP(GOMP_parallel_loop_nonmonotonic_guided)

void GOMP_parallel_loop_runtime(body_fn fn, void *data, unsigned nthreads, long start, long end, long incr,
                                unsigned flags) {
    static void (*real)(body_fn, void *, unsigned, long, long, long, unsigned);
    if (!real) real = next("GOMP_parallel_loop_runtime");
    count();
    real(fn, data, nthreads, start, end, incr, flags);
}

void GOMP_parallel_sections(body_fn fn, void *data, unsigned nthreads, unsigned count_, unsigned flags) {
    static void (*real)(body_fn, void *, unsigned, unsigned, unsigned);
    if (!real) real = next("GOMP_parallel_sections");
    count();
    real(fn, data, nthreads, count_, flags);
}
