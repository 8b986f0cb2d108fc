/* Element types of checkpoint tensors and compute buffers, and scalar conversions between them.
 * bf16 and f16 are stored as uint16_t bit patterns. Conversions to bf16/f16 round to nearest even,
 * as torch does. */
#ifndef WEBSSL_COMMON_DTYPE_H
#define WEBSSL_COMMON_DTYPE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef enum { WS_DTYPE_F32 = 0, WS_DTYPE_F16, WS_DTYPE_BF16, WS_DTYPE_COUNT } ws_dtype;

size_t ws_dtype_size(ws_dtype dt);                  /* bytes per element */
/* The one spelling of a dtype in flags and messages: "fp32", "fp16", "bf16". */
const char *ws_dtype_name(ws_dtype dt);
int ws_dtype_parse(const char *s, ws_dtype *out);   /* "fp32"/"f32"/"float32", ... ; WS_OK or WS_ERR_ARG */

static inline float ws_bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline uint16_t ws_f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float ws_f16_to_f32(uint16_t h);
uint16_t ws_f32_to_f16(float f);

/* Convert n elements from `src` of type `st` to float. */
void ws_convert_to_f32(float *dst, const void *src, ws_dtype st, size_t n);
/* Convert n floats to type `dt` (f32 copies). */
void ws_convert_from_f32(void *dst, ws_dtype dt, const float *src, size_t n);

#endif
