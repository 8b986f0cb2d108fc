/* Which GEMM implementation the CPU backend's matmul runs, per weights dtype; the only CPU file
 * that knows whether oneDNN is built in. The environment variable WEBSSL_GEMM forces a path:
 *   openblas  f32: OpenBLAS sgemm. bf16: weights widened to f32 per panel, then sgemm (any CPU).
 *   onednn    oneDNN matmul for both dtypes. bf16 is native on CPUs with AVX512_BF16 or AMX,
 *             emulated by oneDNN on other AVX-512 CPUs, and an error where oneDNN offers none.
 *   auto      (default, or unset) f32: oneDNN on AVX-512 CPUs, where its blocked kernels beat
 *             OpenBLAS on the model's GEMMs and on small data operands (k-means centroids, a
 *             cluster's rows: an iteration 1.08x / 1.31x faiss on 1 / 2 threads against 0.98x /
 *             0.88x); a model's weights are held once even so (matmul_onednn.c gives the plain
 *             pages back). OpenBLAS on AVX2 CPUs, where oneDNN offers only its plain-layout
 *             gemm kernels (docs/performance.md);
 *             bf16: oneDNN where its native bf16 beats f32 (AMX, or
 *             AVX512_BF16 on AMD), else widened: on Intel CPUs with AVX512_BF16 but no AMX the
 *             bf16 dot product runs at half the rate of their two f32 FMA ports, and every system
 *             measured there ran bf16 at about half its f32 speed (docs/performance.md).
 * A path the build or the CPU cannot run is an error naming the path and what is missing, never
 * a silent fallback. The activation dtype of bf16 compute follows from the choice: bf16 only on a
 * native bf16 path. WEBSSL_ACTIVATIONS=bf16 forces bf16 activations on any path (slower without
 * native bf16, but the numerics of the native and CUDA paths, so tests run them on any machine);
 * f32 forces f32; auto (default, or unset) chooses. */
#include "backend/cpu/cpu.h"
#include "common/error.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { PATH_AUTO, PATH_OPENBLAS, PATH_ONEDNN } gemm_path;

static int forced_path(gemm_path *out) {
    const char *v = getenv("WEBSSL_GEMM");
    *out = PATH_AUTO;
    if (!v || !*v || !strcmp(v, "auto")) return WS_OK;
    if (!strcmp(v, "openblas")) *out = PATH_OPENBLAS;
    else if (!strcmp(v, "onednn")) *out = PATH_ONEDNN;
    else return ws_errorf(WS_ERR_ARG, "WEBSSL_GEMM='%s': expected auto, openblas or onednn", v);
    return WS_OK;
}

/* WEBSSL_ACTIVATIONS: *out = -1 (auto), 0 (f32) or 1 (bf16). */
static int forced_activations(int *out) {
    const char *v = getenv("WEBSSL_ACTIVATIONS");
    *out = -1;
    if (!v || !*v || !strcmp(v, "auto")) return WS_OK;
    if (!strcmp(v, "f32")) *out = 0;
    else if (!strcmp(v, "bf16")) *out = 1;
    else return ws_errorf(WS_ERR_ARG, "WEBSSL_ACTIVATIONS='%s': expected auto, f32 or bf16", v);
    return WS_OK;
}

#ifdef WEBSSL_HAVE_DNNL
/* Whether oneDNN's native bf16 matmul is faster here than sgemm on weights widened to f32. */
static int native_bf16_pays(void) {
    if (!cpu_onednn_native_bf16()) return 0;
    return !strcmp(cpu_onednn_isa(), "avx512_core_amx") || cpu_vendor_amd();
}
#endif

int cpu_gemm_select(ws_backend *be, ws_dtype wdt, ws_gemm_use use, char *desc, size_t n) {
    cpu_state *st = be->impl;
    const int bf16 = wdt == WS_DTYPE_BF16;
    if (wdt != WS_DTYPE_F32 && !bf16)
        return ws_errorf(WS_ERR_UNSUPPORTED, "cpu GEMM: weights dtype %s (expected fp32 or bf16)",
                         ws_dtype_name(wdt));
    gemm_path path;
    int rc = forced_path(&path), act;
    if (rc || (rc = forced_activations(&act))) return rc;
    st->gemm_drop_plain = use == WS_GEMM_MODEL;
    char cpu[128];
    cpu_features_describe(cpu, sizeof cpu);
#ifdef WEBSSL_HAVE_DNNL
    char impl[160] = "";
    if (path == PATH_AUTO && !bf16 && cpu_onednn_avx512()) {
        if (cpu_onednn_probe(be, wdt, impl, sizeof impl) == WS_OK) path = PATH_ONEDNN;
        else LOG_WARN("cpu GEMM: oneDNN f32 on an AVX-512 CPU: %s; using OpenBLAS", ws_error_message());
    } else if (path == PATH_AUTO && bf16 && native_bf16_pays()) {
        if (cpu_onednn_probe(be, wdt, impl, sizeof impl) == WS_OK) path = PATH_ONEDNN;
        else LOG_WARN("cpu GEMM: native bf16 reported, but %s; using bf16 widened to f32", ws_error_message());
    } else if (path == PATH_ONEDNN && cpu_onednn_probe(be, wdt, impl, sizeof impl)) {
        char why[256];
        snprintf(why, sizeof why, "%s", ws_error_message());
        return ws_errorf(WS_ERR_UNSUPPORTED, "WEBSSL_GEMM=onednn: %s", why);
    }
    if (path == PATH_ONEDNN) {
        st->gemm[bf16] = bf16 ? cpu_gemm_onednn_bf16 : cpu_gemm_onednn_f32;
        if (bf16) {
            st->bf16_activations = act >= 0 ? act : cpu_onednn_native_bf16();
            st->attention_bf16 = cpu_attention_onednn;
        }
        snprintf(desc, n, "gemm onednn %s%s (%s)%s; cpu %s", ws_dtype_name(wdt),
                 bf16 ? (cpu_onednn_native_bf16() ? " native" : " emulated") : "", impl,
                 bf16 && st->bf16_activations ? ", bf16 activations" : "", cpu);
        return WS_OK;
    }
#else
    if (path == PATH_ONEDNN)
        return ws_errorf(WS_ERR_UNSUPPORTED, "WEBSSL_GEMM=onednn: this build has no oneDNN "
                         "(install libdnnl-dev and build again)");
#endif
    st->gemm[bf16] = bf16 ? cpu_gemm_openblas_bf16 : cpu_gemm_openblas_f32;
    if (bf16) {
        st->bf16_activations = act > 0;
        st->attention_bf16 = NULL;
    }
    int native_unused = 0;
#ifdef WEBSSL_HAVE_DNNL
    native_unused = bf16 && path == PATH_AUTO && cpu_onednn_native_bf16() && !native_bf16_pays();
#endif
    snprintf(desc, n, "gemm openblas %s%s%s; cpu %s", bf16 ? "bf16 widened to f32" : "f32",
             native_unused ? " (faster than native bf16 without AMX; WEBSSL_GEMM=onednn forces it)" : "",
             bf16 && st->bf16_activations ? ", bf16 activations" : "", cpu);
    return WS_OK;
}

ws_dtype cpu_activation_dtype(ws_backend *be, ws_dtype wdt) {
    const cpu_state *st = be->impl;
    return wdt == WS_DTYPE_BF16 && st->bf16_activations ? WS_DTYPE_BF16 : WS_DTYPE_F32;
}

int cpu_fuses_swiglu(ws_backend *be, ws_dtype wdt) {
#ifdef WEBSSL_HAVE_DNNL
    const cpu_gemm_fn f = ((const cpu_state *)be->impl)->gemm[wdt == WS_DTYPE_BF16];
    return f == cpu_gemm_onednn_f32 || f == cpu_gemm_onednn_bf16;
#else
    return 0;
#endif
}

void cpu_gemm_forget(ws_backend *be, const void *p, size_t bytes) {
#ifdef WEBSSL_HAVE_DNNL
    cpu_onednn_forget(be, p, bytes);
#endif
}

void cpu_gemm_free(ws_backend *be) {
#ifdef WEBSSL_HAVE_DNNL
    cpu_attention_onednn_free(be);
    cpu_onednn_free(be);
#endif
}
