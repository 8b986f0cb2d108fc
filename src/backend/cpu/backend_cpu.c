/* The CPU backend: memory helpers and the op table (ops live one per file in this directory). */
#define _GNU_SOURCE   /* sched_getaffinity, CPU_COUNT */
#include "backend/cpu/cpu.h"
#include "backend/cpu/cpu_memory.h"
#include "common/error.h"
#include "common/log.h"

#include <cblas.h>
#include <malloc.h>
#include <omp.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

static void *cpu_alloc(ws_backend *be, size_t bytes) {
    size_t rounded = (bytes + 63) / 64 * 64;
    return aligned_alloc(64, rounded ? rounded : 64);
}

static void cpu_free(ws_backend *be, void *p) {
    if (p) cpu_gemm_forget(be, p, malloc_usable_size(p));   /* weights a GEMM path kept a copy of */
    free(p);
}

static void cpu_copy(ws_backend *be, void *dst, const void *src, size_t bytes) {
    if (bytes) memcpy(dst, src, bytes);
}

/* An upload may overwrite weights a GEMM path keeps a copy of (k-means' centroids, rewritten
 * every iteration): the copy goes with it. */
static void cpu_upload(ws_backend *be, void *dst, const void *src, size_t bytes) {
    cpu_gemm_forget(be, dst, bytes);
    cpu_copy(be, dst, src, bytes);
}

static void cpu_sync(ws_backend *be) {}

static void cpu_upload_wait(ws_backend *be) {}

static void cpu_device_uuid(ws_backend *be, unsigned char uuid[16]) { memset(uuid, 0, 16); }

static void *cpu_stream(ws_backend *be) { return NULL; }

static void cpu_destroy(ws_backend *be) {
    cpu_state *st = be->impl;
    cpu_gemm_free(be);
    free(st->scratch);
    free(st->io_scratch);
    for (int t = 0; t < st->nslots; t++) free(st->thread_scratch[t]);
    free(st->thread_scratch);
    free(st->thread_scratch_bytes);
    free(st);
    free(be);
}

/* *buf grown to at least `bytes` (contents not kept); NULL when out of memory. */
static float *grow(ws_backend *be, float **buf, size_t *have, size_t bytes) {
    if (bytes > *have) {
        free(*buf);
        *buf = cpu_alloc(be, bytes);
        *have = *buf ? bytes : 0;
    }
    return *buf;
}

float *cpu_scratch(ws_backend *be, size_t bytes) {
    cpu_state *st = be->impl;
    return grow(be, &st->scratch, &st->scratch_bytes, bytes);
}

float *cpu_io_scratch(ws_backend *be, size_t bytes) {
    cpu_state *st = be->impl;
    return grow(be, &st->io_scratch, &st->io_scratch_bytes, bytes);
}

int cpu_thread_slots(ws_backend *be) {
    cpu_state *st = be->impl;
    const int T = omp_get_max_threads();
    if (T <= st->nslots) return WS_OK;
    float **s = realloc(st->thread_scratch, (size_t)T * sizeof *s);
    if (s) st->thread_scratch = s;
    size_t *b = s ? realloc(st->thread_scratch_bytes, (size_t)T * sizeof *b) : NULL;
    if (!b) return ws_errorf(WS_ERR_NOMEM, "cpu backend: out of memory for %d thread scratch slots", T);
    st->thread_scratch_bytes = b;
    for (int t = st->nslots; t < T; t++) s[t] = NULL, b[t] = 0;
    st->nslots = T;
    return WS_OK;
}

float *cpu_thread_scratch(ws_backend *be, size_t bytes) {
    cpu_state *st = be->impl;
    int t = omp_get_thread_num();
    if (t >= st->nslots) return NULL;   /* a region opened without cpu_thread_slots: a bug, reported as no memory */
    return grow(be, &st->thread_scratch[t], &st->thread_scratch_bytes[t], bytes);
}

static size_t cpu_scratch_bytes(ws_backend *be, int N) {
    return (size_t)be->threads * cpu_attention_thread_bytes(N);
}

static const ws_backend_ops cpu_ops = {
    .name = "cpu",
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_upload,
    .download = cpu_copy,
    .sync = cpu_sync,
    .destroy = cpu_destroy,
    .host_alloc = cpu_alloc,
    .host_free = cpu_free,
    .upload_async = cpu_upload,
    .upload_wait = cpu_upload_wait,
    .device_uuid = cpu_device_uuid,
    .stream = cpu_stream,
    .scratch_bytes = cpu_scratch_bytes,
    .gemm_select = cpu_gemm_select,
    .activation_dtype = cpu_activation_dtype,
    .fuses_swiglu = cpu_fuses_swiglu,
    .matmul = cpu_matmul,
    .layernorm = cpu_layernorm,
    .residual_layernorm = cpu_residual_layernorm,
    .swiglu = cpu_swiglu,
    .im2col = cpu_im2col,
    .tokens = cpu_tokens,
    .attention = cpu_attention,
    .token_mean = cpu_token_mean,
    .row_argmax = cpu_row_argmax,
    .normalises_u8 = 0,
    .normalize = cpu_normalize,
    .slot_upload = cpu_slot_upload,
    .slot_release = cpu_slot_release,
    .slot_wait = cpu_slot_wait,
    .copy_rows = cpu_copy_rows,
    .download_async = cpu_download_async,
    .graph_capturable = cpu_graph_capturable,
    .graph_begin = cpu_graph_begin,
    .graph_end = cpu_graph_end,
    .graph_launch = cpu_graph_launch,
    .graph_free = cpu_graph_free,
};

/* More compute threads than CPUs the process may run on share them (each at a fraction of its
 * speed, and every barrier waits for the slowest): say so. mpirun binds each rank to one core when
 * it starts at most two ranks, unless told --bind-to none or --map-by ...:PE=N. */
static void warn_if_oversubscribed(int threads) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && threads > CPU_COUNT(&set))
        LOG_WARN("cpu: %d compute threads on the %d CPU(s) this process may run on (its affinity mask); "
                 "under mpirun give each rank its cores (--bind-to none, or --map-by slot:PE=%d)",
                 threads, CPU_COUNT(&set), threads);
}

int backend_cpu_create(int threads, ws_backend **out) {
    ws_backend *be = calloc(1, sizeof *be);
    cpu_state *st = calloc(1, sizeof *st);
    if (!be || !st) {
        free(be);
        free(st);
        return ws_errorf(WS_ERR_NOMEM, "cpu backend: out of memory");
    }
    /* One thread pool: OpenMP. BLAS calls run single-threaded inside OpenMP regions (matmul.c). */
    if (threads > 0) omp_set_num_threads(threads), warn_if_oversubscribed(threads);
    openblas_set_num_threads(1);
    st->gemm[0] = cpu_gemm_openblas_f32;   /* until the model calls gemm_select */
    st->gemm[1] = cpu_gemm_openblas_bf16;
    be->ops = &cpu_ops;
    be->threads = threads > 0 ? threads : omp_get_max_threads();
    be->device = -1;
    be->host_memory = 1;
    be->impl = st;
    *out = be;
    return WS_OK;
}
