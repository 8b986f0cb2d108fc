/* oneDNN GEMM paths of the CPU backend (built when oneDNN is found): out[M,N] = in[M,K] . w[N,K]^T
 * + bias through the oneDNN matmul primitive, f32 accumulation.
 * - Weights: w[N,K] row-major is the [K,N] matrix in oneDNN's "ba" layout. The primitive is asked
 *   for the weights layout it prefers (format "any"). A blocked layout (the AVX-512 / AMX kernels)
 *   gets a copy of the weights, reordered once at their first use and kept (keyed by the weights
 *   pointer, dropped when the backend frees or overwrites that memory). A model's weights
 *   (cpu_state.gemm_drop_plain: read by nothing but matmuls) are then held once: the whole pages
 *   of the plain copy go back to the OS (madvise MADV_DONTNEED; they read as zeros afterwards),
 *   and a later call wanting another layout reorders from the copy. Data operands (k-means
 *   centroids, read by other code too) keep both. A plain preferred layout (the AVX2 gemm
 *   kernels) gains nothing from a copy, so the primitive is made for "ba" and the weights are used
 *   in place.
 * - bf16 weights: an f32 input is rounded to bf16 (round to nearest even, as torch.autocast), a
 *   bf16 input is taken as it is, and the primitive multiplies bf16 x bf16 with f32 accumulation:
 *   native on CPUs with AVX512_BF16 or AMX, emulated by oneDNN on other AVX-512 CPUs, not offered
 *   on AVX2. Its output is in the call's dtype (a bf16 output rounded once, by oneDNN).
 * - f32 weights: a bf16 input is widened to f32; the output is f32 (stored as bf16 after the
 *   product when the call asks for bf16; the model never does).
 * - The epilogue is the primitive's: the bias through its bias argument, GELU as its eltwise
 *   gelu_erf post-op (the exact erf form), so a matmul is one oneDNN call and one parallel region;
 *   a SwiGLU is two calls (onednn_gemm), the gate's with swish and a multiply as post-ops.
 * - Primitives are cached per (M, N, K, dtype, bias, output dtype, post-ops); threads: oneDNN runs on
 *   the same OpenMP pool. This file also holds the backend's one oneDNN engine and stream, which
 *   the attention (attention_onednn.c) shares. */
#include "backend/cpu/cpu.h"
#include "common/error.h"
#include "common/log.h"

#include "backend/cpu/onednn_check.h"

#include <errno.h>
#include <oneapi/dnnl/dnnl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

typedef struct {
    int M, N, K, bf16, bias, obf16, gelu, swiglu;   /* swiglu: the gate's product (see onednn_gemm) */
    dnnl_primitive_t prim;
    dnnl_memory_desc_t wmd;   /* the weights layout the primitive wants */
} prim_entry;

typedef struct {
    const void *w;            /* the caller's weights [N, K] */
    int N, K, bf16;           /* their shape and dtype */
    int dropped;              /* the pages of the plain weights at w were given back to the OS */
    dnnl_memory_desc_t wmd;   /* the layout held in mem */
    dnnl_memory_t mem;        /* a reordered copy, or the plain weights at w */
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

int cpu_onednn_avx512(void) {
    const unsigned isa = (unsigned)dnnl_get_effective_cpu_isa(), avx512 = dnnl_cpu_isa_avx512_core;
    return (isa & avx512) == avx512;
}

/* The backend's oneDNN state (engine, stream, caches), made at the first use. */
static int state(ws_backend *be, cpu_onednn **out) {
    cpu_state *st = be->impl;
    int rc = WS_OK;
    if (!st->onednn) {
        cpu_onednn *d = calloc(1, sizeof *d);
        if (!d) return ws_errorf(WS_ERR_NOMEM, "oneDNN: out of memory for the engine");
        DNNL_TRY(rc, dnnl_engine_create(&d->eng, dnnl_cpu, 0));
        DNNL_TRY(rc, dnnl_stream_create(&d->stream, d->eng, dnnl_stream_default_flags));
        if (rc != WS_OK) {
            if (d->eng) dnnl_release(dnnl_engine_destroy(d->eng), "the engine");
            free(d);
            return rc;
        }
        st->onednn = d;
    }
    *out = st->onednn;
    return rc;
}

int cpu_onednn_engine(ws_backend *be, dnnl_engine_t *eng, dnnl_stream_t *stream) {
    cpu_onednn *d = NULL;
    int rc = state(be, &d);
    if (rc != WS_OK) return rc;
    *eng = d->eng;
    *stream = d->stream;
    return WS_OK;
}

static int md_2d(dnnl_memory_desc_t *md, int rows, int cols, dnnl_data_type_t dt, dnnl_format_tag_t tag) {
    dnnl_dims_t dims = {rows, cols};
    int rc = WS_OK;
    DNNL_TRY(rc, dnnl_memory_desc_init_by_tag(md, 2, dims, dt, tag));
    return rc;
}

/* Attributes with the post-ops into *attr (NULL without any): GELU (gelu_erf), or for the gate
 * of a SwiGLU swish (x * sigmoid(x)) and a multiply by an f32 [M, N] operand, the linear half. */
static int post_ops_attr(int gelu, int swiglu, int M, int N, dnnl_primitive_attr_t *attr) {
    dnnl_post_ops_t po = NULL;
    dnnl_memory_desc_t lin;
    int rc = WS_OK;
    *attr = NULL;
    if (!gelu && !swiglu) return WS_OK;
    if (swiglu && (rc = md_2d(&lin, M, N, dnnl_f32, dnnl_ab)) != WS_OK) return rc;
    DNNL_TRY(rc, dnnl_post_ops_create(&po));
    if (gelu) DNNL_TRY(rc, dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_gelu_erf, 0.0f, 0.0f));
    if (swiglu) {
        DNNL_TRY(rc, dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_swish, 1.0f, 0.0f));
        DNNL_TRY(rc, dnnl_post_ops_append_binary(po, dnnl_binary_mul, &lin));
    }
    DNNL_TRY(rc, dnnl_primitive_attr_create(attr));
    DNNL_TRY(rc, dnnl_primitive_attr_set_post_ops(*attr, po));
    if (po) dnnl_release(dnnl_post_ops_destroy(po), "the post-ops");
    if (rc != WS_OK && *attr) {
        dnnl_release(dnnl_primitive_attr_destroy(*attr), "the attributes");
        *attr = NULL;
    }
    return rc;
}

/* The primitive descriptor for one shape with weights layout `wtag`, output bf16 or f32 and the
 * post-ops of post_ops_attr into *pd: NULL (and WS_OK) when oneDNN has no implementation for it. */
static int make_pd(cpu_onednn *d, int M, int N, int K, int bf16, int bias, int obf16, int gelu, int swiglu,
                   dnnl_format_tag_t wtag, dnnl_primitive_desc_t *pd) {
    const dnnl_data_type_t dt = bf16 ? dnnl_bf16 : dnnl_f32;
    dnnl_memory_desc_t src, wei, bmd, dst;
    dnnl_matmul_desc_t desc;
    dnnl_primitive_attr_t attr = NULL;
    *pd = NULL;
    int rc = md_2d(&src, M, K, dt, dnnl_ab);
    if (rc == WS_OK) rc = md_2d(&wei, K, N, dt, wtag);
    if (rc == WS_OK) rc = md_2d(&bmd, 1, N, dnnl_f32, dnnl_ab);
    if (rc == WS_OK) rc = md_2d(&dst, M, N, obf16 ? dnnl_bf16 : dnnl_f32, dnnl_ab);
    DNNL_TRY(rc, dnnl_matmul_desc_init(&desc, &src, &wei, bias ? &bmd : NULL, &dst));
    if (rc == WS_OK) rc = post_ops_attr(gelu, swiglu, M, N, &attr);
    if (rc != WS_OK) return rc;
    dnnl_status_t st = dnnl_primitive_desc_create(pd, &desc, attr, d->eng, NULL);
    if (attr) dnnl_release(dnnl_primitive_attr_destroy(attr), "the attributes");
    if (st == dnnl_unimplemented) {
        *pd = NULL;
        return WS_OK;
    }
    DNNL_TRY(rc, st);
    return rc;
}

int cpu_onednn_probe(ws_backend *be, ws_dtype wdt, char *impl, size_t n) {
    cpu_onednn *d = NULL;
    int rc = state(be, &d);
    const int bf16 = wdt == WS_DTYPE_BF16;
    const dnnl_version_t *v = dnnl_version();
    dnnl_primitive_desc_t pd = NULL;
    if (rc == WS_OK) rc = make_pd(d, 64, 64, 64, bf16, 1, 0, 0, 0, dnnl_format_tag_any, &pd);
    if (rc != WS_OK) return rc;
    if (!pd)
        return ws_errorf(WS_ERR_UNSUPPORTED,
                         "oneDNN %d.%d.%d has no %s matmul on this CPU "
                         "(oneDNN ISA %s; bf16 needs at least AVX-512)",
                         v->major, v->minor, v->patch, ws_dtype_name(wdt), cpu_onednn_isa());
    const char *name = "?";
    DNNL_TRY(rc, dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name));
    if (rc == WS_OK)
        snprintf(impl, n, "oneDNN %d.%d.%d %s, ISA %s", v->major, v->minor, v->patch, name, cpu_onednn_isa());
    DNNL_TRY(rc, dnnl_primitive_desc_destroy(pd));
    return rc;
}

/* The cached primitive for one shape (key: M..gelu, as prim_entry) into *out, made at its first use. */
static int get_prim(cpu_onednn *d, prim_entry key, const prim_entry **out) {
    const int M = key.M, N = key.N, K = key.K, bf16 = key.bf16, bias = key.bias;
    for (size_t i = 0; i < d->nprims; i++) {
        const prim_entry *p = &d->prims[i];
        if (p->M == M && p->N == N && p->K == K && p->bf16 == bf16 && p->bias == bias && p->obf16 == key.obf16 &&
            p->gelu == key.gelu && p->swiglu == key.swiglu) {
            *out = p;
            return WS_OK;
        }
    }
    dnnl_primitive_desc_t pd = NULL, plain = NULL;
    int rc = make_pd(d, M, N, K, bf16, bias, key.obf16, key.gelu, key.swiglu, dnnl_format_tag_any, &pd);
    if (rc == WS_OK && !pd)   /* cpu_gemm_select probed this dtype; a shape without one is odd */
        return ws_errorf(WS_ERR_UNSUPPORTED, "oneDNN has no %s matmul for M=%d N=%d K=%d", bf16 ? "bf16" : "f32",
                         M, N, K);
    /* A plain preferred layout gains nothing from a copy: take the weights as they are. */
    const dnnl_memory_desc_t *pref = rc == WS_OK ? dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0) : NULL;
    if (pref && pref->format_kind == dnnl_blocked && pref->format_desc.blocking.inner_nblks == 0) {
        rc = make_pd(d, M, N, K, bf16, bias, key.obf16, key.gelu, key.swiglu, dnnl_ba, &plain);
        if (rc == WS_OK && plain) {
            dnnl_release(dnnl_primitive_desc_destroy(pd), "a primitive descriptor");
            pd = plain;
        }
    }
    prim_entry *grown = rc == WS_OK ? realloc(d->prims, (d->nprims + 1) * sizeof *grown) : NULL;
    if (rc == WS_OK && !grown) rc = ws_errorf(WS_ERR_NOMEM, "oneDNN: out of memory for the primitive cache");
    if (grown) d->prims = grown;
    prim_entry p = key;
    if (rc == WS_OK) {
        const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
        if (!wmd) rc = ws_errorf(WS_ERR_DEVICE, "oneDNN: the matmul primitive names no weights layout");
        else p.wmd = *wmd;
    }
    DNNL_TRY(rc, dnnl_primitive_create(&p.prim, pd));
    if (pd) dnnl_release(dnnl_primitive_desc_destroy(pd), "a primitive descriptor");
    if (rc != WS_OK) return ws_error_context(rc, "oneDNN %s matmul M=%d N=%d K=%d", bf16 ? "bf16" : "f32", M, N, K);
    d->prims[d->nprims] = p;
    *out = &d->prims[d->nprims++];
    return WS_OK;
}

/* *mem: the weights `from` (layout `have`) reordered into layout `want`, in memory allocated here. */
static int reorder_weights(cpu_onednn *d, const dnnl_memory_desc_t *have, const dnnl_memory_desc_t *want,
                           void *from, dnnl_memory_t *mem) {
    dnnl_memory_t src = NULL;
    dnnl_primitive_desc_t rpd = NULL;
    dnnl_primitive_t reorder = NULL;
    int rc = WS_OK;
    DNNL_TRY(rc, dnnl_memory_create(&src, have, d->eng, from));
    DNNL_TRY(rc, dnnl_memory_create(mem, want, d->eng, DNNL_MEMORY_ALLOCATE));
    DNNL_TRY(rc, dnnl_reorder_primitive_desc_create(&rpd, have, d->eng, want, d->eng, NULL));
    DNNL_TRY(rc, dnnl_primitive_create(&reorder, rpd));
    dnnl_exec_arg_t args[] = {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, *mem}};
    DNNL_TRY(rc, dnnl_primitive_execute(reorder, d->stream, 2, args));
    DNNL_TRY(rc, dnnl_stream_wait(d->stream));
    if (reorder) dnnl_release(dnnl_primitive_destroy(reorder), "the weights reorder");
    if (rpd) dnnl_release(dnnl_primitive_desc_destroy(rpd), "the weights reorder descriptor");
    if (src) dnnl_release(dnnl_memory_destroy(src), "the weights before the reorder");
    if (rc != WS_OK && *mem) {
        dnnl_release(dnnl_memory_destroy(*mem), "the reordered weights");
        *mem = NULL;
    }
    return rc;
}

/* The whole pages of w[0, bytes) given back to the OS (they read as zeros from now on). */
static void drop_pages(const void *w, size_t bytes) {
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), lo = ((uintptr_t)w + page - 1) / page * page,
                    hi = ((uintptr_t)w + bytes) / page * page;
    if (hi > lo && madvise((void *)lo, hi - lo, MADV_DONTNEED))
        LOG_WARN("oneDNN weights: cannot give back the pages of the plain copy: %s", strerror(errno));
}

/* The weights w[N,K] in layout `want` into *out: wrapped as they are, or reordered once and cached
 * (the plain pages dropped when `drop_plain` allows); a later layout is reordered from the one
 * held. */
static int get_weights(cpu_onednn *d, const void *w, int N, int K, int bf16, int drop_plain,
                       const dnnl_memory_desc_t *want, dnnl_memory_t *out) {
    size_t i = 0;
    while (i < d->nweights && d->weights[i].w != w) i++;
    weight_entry *held = i < d->nweights ? &d->weights[i] : NULL;
    const int same = held && held->N == N && held->K == K && held->bf16 == bf16;
    if (same && dnnl_memory_desc_equal(&held->wmd, want)) {
        *out = held->mem;
        return WS_OK;
    }
    if (held && !same && held->dropped)
        return ws_errorf(WS_ERR_ARG, "oneDNN: the weights at %p were reordered as [%d, %d] %s and their "
                         "plain copy dropped, then used as [%d, %d] %s without being written again", w,
                         held->N, held->K, held->bf16 ? "bf16" : "f32", N, K, bf16 ? "bf16" : "f32");
    dnnl_memory_desc_t plain;
    dnnl_memory_t mem = NULL;
    void *from = (void *)w;
    int rc = md_2d(&plain, K, N, bf16 ? dnnl_bf16 : dnnl_f32, dnnl_ba);
    /* The layout held now: the entry's when it is of this shape, else the caller's plain bytes. */
    const dnnl_memory_desc_t *have = same ? &held->wmd : &plain;
    if (rc == WS_OK && same) DNNL_TRY(rc, dnnl_memory_get_data_handle(held->mem, &from));
    if (rc == WS_OK && dnnl_memory_desc_equal(have, want))
        DNNL_TRY(rc, dnnl_memory_create(&mem, want, d->eng, from));
    else if (rc == WS_OK)
        rc = reorder_weights(d, have, want, from, &mem);
    if (rc == WS_OK && !held) {
        weight_entry *grown = realloc(d->weights, (d->nweights + 1) * sizeof *grown);
        if (grown) d->weights = grown, d->nweights++;
        else rc = ws_errorf(WS_ERR_NOMEM, "oneDNN: out of memory for the weights cache");
    }
    if (rc != WS_OK) {
        if (mem) dnnl_release(dnnl_memory_destroy(mem), "the weights");
        return ws_error_context(rc, "oneDNN weights [%d, %d]", N, K);
    }
    void *data = NULL;
    dnnl_memory_get_data_handle(mem, &data);
    const int was_dropped = same && held->dropped, dropped = was_dropped || (drop_plain && data != w);
    if (dropped && !was_dropped) drop_pages(w, (size_t)N * K * (bf16 ? 2 : 4));
    if (held) dnnl_release(dnnl_memory_destroy(held->mem), "replaced weights");
    d->weights[i] = (weight_entry){.w = w, .N = N, .K = K, .bf16 = bf16, .dropped = dropped, .wmd = *want,
                                   .mem = mem};
    *out = mem;
    return WS_OK;
}

/* out = epi(src . w^T + bias) by the primitive: src in the weights' dtype, out bf16 or f32 (obf16);
 * for the gate of a SwiGLU (g->epi), `lin` is the linear half [M, N] f32 its post-op multiplies by. */
static int run(ws_backend *be, void *out, const void *src, const cpu_gemm_call *g, int bf16, int obf16,
               const float *lin) {
    cpu_onednn *d = NULL;
    const prim_entry *p = NULL;
    const int M = g->M, N = g->N, K = g->K, swiglu = g->epi == WS_EPILOGUE_SWIGLU;
    const prim_entry key = {.M = M, .N = N, .K = K, .bf16 = bf16, .bias = g->bias != NULL, .obf16 = obf16,
                            .gelu = g->epi == WS_EPILOGUE_GELU, .swiglu = swiglu};
    dnnl_memory_t wmem = NULL, smem = NULL, dmem = NULL, bmem = NULL, lmem = NULL;
    dnnl_memory_desc_t smd, dmd, bmd, lmd;
    int rc = state(be, &d);
    if (rc == WS_OK) rc = get_prim(d, key, &p);
    const int drop_plain = ((const cpu_state *)be->impl)->gemm_drop_plain;
    if (rc == WS_OK) rc = get_weights(d, g->w, N, K, bf16, drop_plain, &p->wmd, &wmem);
    if (rc == WS_OK) rc = md_2d(&smd, M, K, bf16 ? dnnl_bf16 : dnnl_f32, dnnl_ab);
    if (rc == WS_OK) rc = md_2d(&dmd, M, N, obf16 ? dnnl_bf16 : dnnl_f32, dnnl_ab);
    if (rc == WS_OK) rc = md_2d(&bmd, 1, N, dnnl_f32, dnnl_ab);
    if (rc == WS_OK) rc = md_2d(&lmd, M, N, dnnl_f32, dnnl_ab);
    DNNL_TRY(rc, dnnl_memory_create(&smem, &smd, d->eng, (void *)src));
    DNNL_TRY(rc, dnnl_memory_create(&dmem, &dmd, d->eng, out));
    if (g->bias) DNNL_TRY(rc, dnnl_memory_create(&bmem, &bmd, d->eng, (void *)g->bias));
    if (swiglu) DNNL_TRY(rc, dnnl_memory_create(&lmem, &lmd, d->eng, (void *)lin));
    dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, smem}, {DNNL_ARG_WEIGHTS, wmem}, {DNNL_ARG_DST, dmem}};
    int nargs = 3;
    if (g->bias) args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, bmem};
    if (swiglu) args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_ATTR_MULTIPLE_POST_OP(1) | DNNL_ARG_SRC_1, lmem};
    DNNL_TRY(rc, dnnl_primitive_execute(p->prim, d->stream, nargs, args));
    DNNL_TRY(rc, dnnl_stream_wait(d->stream));
    if (smem) dnnl_release(dnnl_memory_destroy(smem), "the input");
    if (dmem) dnnl_release(dnnl_memory_destroy(dmem), "the output");
    if (bmem) dnnl_release(dnnl_memory_destroy(bmem), "the bias");
    if (lmem) dnnl_release(dnnl_memory_destroy(lmem), "the linear half");
    return rc;
}

/* The call on weights of dtype bf16 (bf16w) or f32: the input converted to the weights' dtype when
 * it is not in it, the product and its epilogue by the primitive, a bf16 output of f32 weights
 * stored from an f32 product. A SwiGLU is two products of the same input: the linear half (rows
 * [N, 2N) of w and of the bias) into f32 scratch, then the gate's (rows [0, N)) with swish and
 * the multiply by that scratch as its post-ops, so the gate is applied while the product's tile is
 * in cache and the [M, 2N] product is never stored. */
static int onednn_gemm(ws_backend *be, const cpu_gemm_call *g, int bf16w) {
    const int M = g->M, N = g->N, K = g->K, swiglu = g->epi == WS_EPILOGUE_SWIGLU;
    const int convert = g->idt != (bf16w ? WS_DTYPE_BF16 : WS_DTYPE_F32);
    const int obf16 = bf16w && g->odt == WS_DTYPE_BF16, store = g->odt == WS_DTYPE_BF16 && !obf16;
    const size_t nin = (size_t)M * K, in_bytes = convert ? (nin * (bf16w ? 2 : 4) + 63) / 64 * 64 : 0;
    const size_t mn_bytes = (size_t)M * N * sizeof(float);
    const size_t bytes = in_bytes + (swiglu ? mn_bytes : 0) + (store ? mn_bytes : 0);
    char *io = bytes ? (char *)cpu_io_scratch(be, bytes) : NULL;
    int rc = bytes && !io ? ws_errorf(WS_ERR_NOMEM, "cannot allocate %zu bytes for converted copies", bytes) : WS_OK;
    if (rc == WS_OK && convert) {
        #pragma omp parallel
        {
            if (bf16w) cpu_to_bf16((uint16_t *)io, g->in, nin);
            else cpu_widen((float *)io, g->in, nin);
        }
    }
    const void *src = convert ? io : g->in;
    float *lin = swiglu ? (float *)(io + in_bytes) : NULL;
    float *acc = store ? (float *)(io + in_bytes + (swiglu ? mn_bytes : 0)) : NULL;
    if (rc == WS_OK && swiglu) {
        cpu_gemm_call half = *g;
        half.w = (const char *)g->w + (size_t)N * K * (bf16w ? 2 : 4);
        half.bias = g->bias ? g->bias + N : NULL;
        half.epi = WS_EPILOGUE_NONE;
        rc = run(be, lin, src, &half, bf16w, 0, NULL);
    }
    if (rc == WS_OK) rc = run(be, store ? acc : g->out, src, g, bf16w, obf16, lin);
    if (rc == WS_OK && store) {
        #pragma omp parallel
        {
            size_t r0, r1;
            cpu_thread_rows((size_t)M, &r0, &r1);
            cpu_epilogue(g->out, WS_DTYPE_BF16, acc, WS_EPILOGUE_NONE, (int)r0, (int)r1, 0, N, N);
        }
    }
    if (rc != WS_OK)
        return ws_error_context(rc, "cpu matmul (onednn %s, M=%d N=%d K=%d%s)", bf16w ? "bf16" : "f32", M, N, K,
                                swiglu ? ", SwiGLU" : "");
    return WS_OK;
}

int cpu_gemm_onednn_f32(ws_backend *be, const cpu_gemm_call *g) { return onednn_gemm(be, g, 0); }

int cpu_gemm_onednn_bf16(ws_backend *be, const cpu_gemm_call *g) { return onednn_gemm(be, g, 1); }

void cpu_onednn_forget(ws_backend *be, const void *p, size_t bytes) {
    cpu_onednn *d = ((cpu_state *)be->impl)->onednn;
    if (!d) return;
    const char *lo = p, *hi = lo + bytes;
    size_t kept = 0;
    for (size_t i = 0; i < d->nweights; i++) {
        const char *w = d->weights[i].w;
        if (w >= lo && w < hi) dnnl_release(dnnl_memory_destroy(d->weights[i].mem), "freed weights");
        else d->weights[kept++] = d->weights[i];
    }
    d->nweights = kept;
}

void cpu_onednn_free(ws_backend *be) {
    cpu_state *st = be->impl;
    cpu_onednn *d = st->onednn;
    if (!d) return;
    for (size_t i = 0; i < d->nprims; i++) dnnl_release(dnnl_primitive_destroy(d->prims[i].prim), "a primitive");
    for (size_t i = 0; i < d->nweights; i++) dnnl_release(dnnl_memory_destroy(d->weights[i].mem), "weights");
    free(d->prims);
    free(d->weights);
    dnnl_release(dnnl_stream_destroy(d->stream), "the stream");
    dnnl_release(dnnl_engine_destroy(d->eng), "the engine");
    free(d);
    st->onednn = NULL;
}
