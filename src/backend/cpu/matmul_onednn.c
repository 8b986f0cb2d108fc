/* oneDNN GEMM paths of the CPU backend (built when oneDNN is found): out[M,N] = in[M,K] . w[N,K]^T
 * + bias through the oneDNN matmul primitive, f32 accumulation.
 * - Weights: w[N,K] row-major is the [K,N] matrix in oneDNN's "ba" layout. The primitive is asked
 *   for the weights layout it prefers (format "any"). A blocked layout (the AVX-512 / AMX kernels)
 *   gets a copy of the weights, reordered once at their first use and kept (keyed by the weights
 *   pointer, dropped when the backend frees that memory): the weights are then held twice. A
 *   plain preferred layout (the AVX2 gemm kernels) gains nothing from a copy, so the primitive is
 *   made for "ba" and the weights are used in place.
 * - bf16 weights: the input is rounded to bf16 (round to nearest even, as torch.autocast) and the
 *   primitive multiplies bf16 x bf16 with f32 accumulation and f32 output: native on CPUs with
 *   AVX512_BF16 or AMX, emulated by oneDNN on other AVX-512 CPUs, not offered on AVX2.
 * - Primitives are cached per (M, N, K, dtype, bias); threads: oneDNN runs on the same OpenMP pool. */
#include "backend/cpu/cpu.h"
#include "common/check.h"
#include "common/error.h"

#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DNNL_CHECK(call) \
    do { dnnl_status_t dnnl_rc_ = (call); \
         if (dnnl_rc_ != dnnl_success) \
             ws_fatal(__FILE__, __LINE__, "%s failed (oneDNN status %d)", #call, (int)dnnl_rc_); \
    } while (0)

typedef struct {
    int M, N, K, bf16, bias;
    dnnl_primitive_t prim;
    dnnl_memory_desc_t wmd;   /* the weights layout the primitive wants */
} prim_entry;

typedef struct {
    const void *w;            /* the caller's weights [N, K] */
    dnnl_memory_desc_t wmd;   /* the layout held in mem */
    dnnl_memory_t mem;        /* reordered copy, or the caller's weights in place */
} weight_entry;

struct cpu_onednn {
    dnnl_engine_t eng;
    dnnl_stream_t stream;
    prim_entry *prims;
    size_t nprims;
    weight_entry *weights;
    size_t nweights;
};

const char *cpu_onednn_isa(void) {
    switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "other";
    }
}

int cpu_onednn_native_bf16(void) {
    /* ISA values are nested bit masks: an ISA includes every bit of the ones below it. oneDNN
     * reports the ISA the OS lets it use (XSAVE state, AMX permission), not just CPUID bits. */
    const unsigned isa = (unsigned)dnnl_get_effective_cpu_isa(), bf16 = dnnl_cpu_isa_avx512_core_bf16;
    return (isa & bf16) == bf16;
}

static cpu_onednn *state(ws_backend *be) {
    cpu_state *st = be->impl;
    if (!st->onednn) {
        cpu_onednn *d = calloc(1, sizeof *d);
        WS_ASSERT(d != NULL);
        DNNL_CHECK(dnnl_engine_create(&d->eng, dnnl_cpu, 0));
        DNNL_CHECK(dnnl_stream_create(&d->stream, d->eng, dnnl_stream_default_flags));
        st->onednn = d;
    }
    return st->onednn;
}

static void md_2d(dnnl_memory_desc_t *md, int rows, int cols, dnnl_data_type_t dt, dnnl_format_tag_t tag) {
    dnnl_dims_t dims = {rows, cols};
    DNNL_CHECK(dnnl_memory_desc_init_by_tag(md, 2, dims, dt, tag));
}

/* The primitive descriptor for one shape with weights layout `wtag`, or NULL when oneDNN has no
 * implementation for it. */
static dnnl_primitive_desc_t make_pd(cpu_onednn *d, int M, int N, int K, int bf16, int bias,
                                     dnnl_format_tag_t wtag) {
    const dnnl_data_type_t dt = bf16 ? dnnl_bf16 : dnnl_f32;
    dnnl_memory_desc_t src, wei, bmd, dst;
    md_2d(&src, M, K, dt, dnnl_ab);
    md_2d(&wei, K, N, dt, wtag);
    md_2d(&bmd, 1, N, dnnl_f32, dnnl_ab);
    md_2d(&dst, M, N, dnnl_f32, dnnl_ab);
    dnnl_matmul_desc_t desc;
    DNNL_CHECK(dnnl_matmul_desc_init(&desc, &src, &wei, bias ? &bmd : NULL, &dst));
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t rc = dnnl_primitive_desc_create(&pd, &desc, NULL, d->eng, NULL);
    if (rc == dnnl_unimplemented) return NULL;
    DNNL_CHECK(rc);
    return pd;
}

int cpu_onednn_probe(ws_backend *be, ws_dtype wdt, char *impl, size_t n) {
    cpu_onednn *d = state(be);
    const int bf16 = wdt == WS_DTYPE_BF16;
    const dnnl_version_t *v = dnnl_version();
    dnnl_primitive_desc_t pd = make_pd(d, 64, 64, 64, bf16, 1, dnnl_format_tag_any);
    if (!pd)
        return ws_errorf(WS_ERR_UNSUPPORTED,
                         "oneDNN %d.%d.%d has no %s matmul on this CPU "
                         "(oneDNN ISA %s; bf16 needs at least AVX-512)",
                         v->major, v->minor, v->patch, ws_dtype_name(wdt), cpu_onednn_isa());
    const char *name = "?";
    DNNL_CHECK(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name));
    snprintf(impl, n, "oneDNN %d.%d.%d %s, ISA %s", v->major, v->minor, v->patch, name, cpu_onednn_isa());
    DNNL_CHECK(dnnl_primitive_desc_destroy(pd));
    return WS_OK;
}

static const prim_entry *get_prim(cpu_onednn *d, int M, int N, int K, int bf16, int bias) {
    for (size_t i = 0; i < d->nprims; i++) {
        const prim_entry *p = &d->prims[i];
        if (p->M == M && p->N == N && p->K == K && p->bf16 == bf16 && p->bias == bias) return p;
    }
    dnnl_primitive_desc_t pd = make_pd(d, M, N, K, bf16, bias, dnnl_format_tag_any);
    /* cpu_gemm_select probed this dtype; another shape without an implementation is a bug */
    WS_ASSERT(pd != NULL);
    /* A plain preferred layout gains nothing from a copy: take the weights as they are. */
    const dnnl_memory_desc_t *pref = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    if (pref->format_kind == dnnl_blocked && pref->format_desc.blocking.inner_nblks == 0) {
        dnnl_primitive_desc_t plain = make_pd(d, M, N, K, bf16, bias, dnnl_ba);
        if (plain) {
            DNNL_CHECK(dnnl_primitive_desc_destroy(pd));
            pd = plain;
        }
    }
    prim_entry *grown = realloc(d->prims, (d->nprims + 1) * sizeof *grown);
    WS_ASSERT(grown != NULL);
    d->prims = grown;
    prim_entry *p = &d->prims[d->nprims++];
    *p = (prim_entry){.M = M, .N = N, .K = K, .bf16 = bf16, .bias = bias};
    p->wmd = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    DNNL_CHECK(dnnl_primitive_create(&p->prim, pd));
    DNNL_CHECK(dnnl_primitive_desc_destroy(pd));
    return p;
}

/* The weights w[N,K] in layout `want`: reordered once and cached, or wrapped in place. */
static dnnl_memory_t get_weights(cpu_onednn *d, const void *w, int N, int K, int bf16,
                                 const dnnl_memory_desc_t *want) {
    weight_entry *e = NULL;
    for (size_t i = 0; i < d->nweights && !e; i++)
        if (d->weights[i].w == w) e = &d->weights[i];
    if (e && dnnl_memory_desc_equal(&e->wmd, want)) return e->mem;
    if (e) {
        DNNL_CHECK(dnnl_memory_destroy(e->mem));
    } else {
        weight_entry *grown = realloc(d->weights, (d->nweights + 1) * sizeof *grown);
        WS_ASSERT(grown != NULL);
        d->weights = grown;
        e = &d->weights[d->nweights++];
        e->w = w;
    }
    e->wmd = *want;
    dnnl_memory_desc_t plain;
    md_2d(&plain, K, N, bf16 ? dnnl_bf16 : dnnl_f32, dnnl_ba);
    if (dnnl_memory_desc_equal(&plain, want)) {
        DNNL_CHECK(dnnl_memory_create(&e->mem, want, d->eng, (void *)w));
        return e->mem;
    }
    dnnl_memory_t from;
    DNNL_CHECK(dnnl_memory_create(&from, &plain, d->eng, (void *)w));
    DNNL_CHECK(dnnl_memory_create(&e->mem, want, d->eng, DNNL_MEMORY_ALLOCATE));
    dnnl_primitive_desc_t rpd;
    DNNL_CHECK(dnnl_reorder_primitive_desc_create(&rpd, &plain, d->eng, want, d->eng, NULL));
    dnnl_primitive_t reorder;
    DNNL_CHECK(dnnl_primitive_create(&reorder, rpd));
    dnnl_exec_arg_t args[] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, e->mem}};
    DNNL_CHECK(dnnl_primitive_execute(reorder, d->stream, 2, args));
    DNNL_CHECK(dnnl_stream_wait(d->stream));
    DNNL_CHECK(dnnl_primitive_destroy(reorder));
    DNNL_CHECK(dnnl_primitive_desc_destroy(rpd));
    DNNL_CHECK(dnnl_memory_destroy(from));
    return e->mem;
}

static void run(ws_backend *be, float *out, const void *src, const void *w, const float *bias,
                int M, int N, int K, int bf16) {
    cpu_onednn *d = state(be);
    const prim_entry *p = get_prim(d, M, N, K, bf16, bias != NULL);
    dnnl_memory_t wmem = get_weights(d, w, N, K, bf16, &p->wmd);
    dnnl_memory_desc_t smd, dmd, bmd;
    md_2d(&smd, M, K, bf16 ? dnnl_bf16 : dnnl_f32, dnnl_ab);
    md_2d(&dmd, M, N, dnnl_f32, dnnl_ab);
    md_2d(&bmd, 1, N, dnnl_f32, dnnl_ab);
    dnnl_memory_t smem, dmem, bmem = NULL;
    DNNL_CHECK(dnnl_memory_create(&smem, &smd, d->eng, (void *)src));
    DNNL_CHECK(dnnl_memory_create(&dmem, &dmd, d->eng, out));
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, smem}, {DNNL_ARG_WEIGHTS, wmem}, {DNNL_ARG_DST, dmem}};
    int nargs = 3;
    if (bias) {
        DNNL_CHECK(dnnl_memory_create(&bmem, &bmd, d->eng, (void *)bias));
        args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, bmem};
    }
    DNNL_CHECK(dnnl_primitive_execute(p->prim, d->stream, nargs, args));
    DNNL_CHECK(dnnl_stream_wait(d->stream));
    DNNL_CHECK(dnnl_memory_destroy(smem));
    DNNL_CHECK(dnnl_memory_destroy(dmem));
    if (bmem) DNNL_CHECK(dnnl_memory_destroy(bmem));
}

int cpu_gemm_onednn_f32(ws_backend *be, float *out, const float *in, const void *w,
                        const float *bias, int M, int N, int K) {
    run(be, out, in, w, bias, M, N, K, 0);
    return WS_OK;
}

int cpu_gemm_onednn_bf16(ws_backend *be, float *out, const float *in, const void *w,
                         const float *bias, int M, int N, int K) {
    const size_t n = (size_t)M * K;
    uint16_t *x = (uint16_t *)cpu_scratch(be, n * sizeof(uint16_t));
    if (!x)
        return ws_errorf(WS_ERR_NOMEM, "cpu matmul (onednn bf16, M=%d N=%d K=%d): cannot allocate %zu "
                         "bytes for the bf16 input", M, N, K, n * sizeof(uint16_t));
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) x[i] = ws_f32_to_bf16(in[i]);
    run(be, out, x, w, bias, M, N, K, 1);
    return WS_OK;
}

int cpu_gemm_onednn_bf16_in(ws_backend *be, float *out, const uint16_t *in, const void *w,
                            const float *bias, int M, int N, int K) {
    run(be, out, in, w, bias, M, N, K, 1);
    return WS_OK;
}

void cpu_onednn_forget(ws_backend *be, const void *p, size_t bytes) {
    cpu_onednn *d = ((cpu_state *)be->impl)->onednn;
    if (!d) return;
    const char *lo = p, *hi = lo + bytes;
    size_t kept = 0;
    for (size_t i = 0; i < d->nweights; i++) {
        const char *w = d->weights[i].w;
        if (w >= lo && w < hi) DNNL_CHECK(dnnl_memory_destroy(d->weights[i].mem));
        else d->weights[kept++] = d->weights[i];
    }
    d->nweights = kept;
}

void cpu_onednn_free(ws_backend *be) {
    cpu_state *st = be->impl;
    cpu_onednn *d = st->onednn;
    if (!d) return;
    for (size_t i = 0; i < d->nprims; i++) DNNL_CHECK(dnnl_primitive_destroy(d->prims[i].prim));
    for (size_t i = 0; i < d->nweights; i++) DNNL_CHECK(dnnl_memory_destroy(d->weights[i].mem));
    free(d->prims);
    free(d->weights);
    DNNL_CHECK(dnnl_stream_destroy(d->stream));
    DNNL_CHECK(dnnl_engine_destroy(d->eng));
    free(d);
    st->onednn = NULL;
}
