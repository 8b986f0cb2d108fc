/* Element type names and conversions (see dtype.h). */
#include "common/dtype.h"
#include "common/error.h"

#include <math.h>

size_t ws_dtype_size(ws_dtype dt) { return dt == WS_DTYPE_F32 ? 4 : 2; }

const char *ws_dtype_name(ws_dtype dt) {
    static const char *names[] = {"fp32", "fp16", "bf16"};
    return (unsigned)dt < WS_DTYPE_COUNT ? names[dt] : "?";
}

int ws_dtype_parse(const char *s, ws_dtype *out) {
    static const struct { const char *name; ws_dtype dt; } table[] = {
        {"f32", WS_DTYPE_F32}, {"fp32", WS_DTYPE_F32}, {"float32", WS_DTYPE_F32},
        {"f16", WS_DTYPE_F16}, {"fp16", WS_DTYPE_F16}, {"float16", WS_DTYPE_F16},
        {"bf16", WS_DTYPE_BF16}, {"bfloat16", WS_DTYPE_BF16},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (!strcmp(s, table[i].name)) { *out = table[i].dt; return WS_OK; }
    return ws_errorf(WS_ERR_ARG, "unknown dtype '%s' (expected fp32, fp16 or bf16)", s);
}

float ws_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, u;
    if (exp == 0) {
        float f = ldexpf((float)mant, -24);
        return sign ? -f : f;
    }
    if (exp == 31) u = sign | 0x7f800000u | (mant << 13);
    else u = sign | ((exp + 112) << 23) | (mant << 13);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t ws_f32_to_f16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint32_t au = u & 0x7fffffffu;
    if (au > 0x7f800000u) return sign | 0x7e00;               /* NaN */
    if (au >= 0x477ff000u) return sign | 0x7c00;              /* overflow -> inf */
    if (au < 0x38800000u) {                                   /* subnormal or zero */
        float a;
        memcpy(&a, &au, 4);
        return sign | (uint16_t)lrintf(a * 16777216.0f);      /* 2^24, round to nearest even */
    }
    uint32_t r = au + 0xfffu + ((au >> 13) & 1u);             /* round mantissa to 10 bits */
    return sign | (uint16_t)((r - 0x38000000u) >> 13);
}

void ws_convert_to_f32(float *dst, const void *src, ws_dtype st, size_t n) {
    const uint16_t *h = src;
    switch (st) {
    case WS_DTYPE_F32: memcpy(dst, src, n * 4); break;
    case WS_DTYPE_F16: for (size_t i = 0; i < n; i++) dst[i] = ws_f16_to_f32(h[i]); break;
    case WS_DTYPE_BF16: for (size_t i = 0; i < n; i++) dst[i] = ws_bf16_to_f32(h[i]); break;
    default: break;
    }
}

void ws_convert_from_f32(void *dst, ws_dtype dt, const float *src, size_t n) {
    uint16_t *h = dst;
    switch (dt) {
    case WS_DTYPE_F32: memcpy(dst, src, n * 4); break;
    case WS_DTYPE_F16: for (size_t i = 0; i < n; i++) h[i] = ws_f32_to_f16(src[i]); break;
    case WS_DTYPE_BF16: for (size_t i = 0; i < n; i++) h[i] = ws_f32_to_bf16(src[i]); break;
    default: break;
    }
}
