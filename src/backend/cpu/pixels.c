/* The CPU backend's host-pipeline entries (backend.h): uint8 normalisation (the reference twin of
 * backend/cuda/normalize.cu), input slots and downloads as plain copies (backend memory is host
 * memory and every op has finished when it returns), and no captured graphs. */
#include "backend/cpu/cpu.h"
#include "common/error.h"
#include "common/pixel_norm.h"

#include <string.h>

int cpu_normalize(ws_backend *be, float *pixels, const uint8_t *u8, int B, int R, const float mean[3],
                  const float std[3]) {
    (void)be;
    float lut[3][256];
    ws_pixel_norm_table(mean, std, lut);
    const size_t n = (size_t)R * R;
#pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) {
        const uint8_t *in = u8 + (size_t)b * n * 3;
        float *o = pixels + (size_t)b * 3 * n;
        for (size_t i = 0; i < n; i++) {
            o[i] = lut[0][in[3 * i]];
            o[n + i] = lut[1][in[3 * i + 1]];
            o[2 * n + i] = lut[2][in[3 * i + 2]];
        }
    }
    return WS_OK;
}

int cpu_slot_upload(ws_backend *be, int slot, void *dst, const void *src_host, size_t bytes) {
    (void)be;
    (void)slot;
    if (bytes) memcpy(dst, src_host, bytes);
    return WS_OK;
}

int cpu_slot_release(ws_backend *be, int slot) {
    (void)be;
    (void)slot;
    return WS_OK;
}

int cpu_slot_wait(ws_backend *be, int slot) {
    (void)be;
    (void)slot;
    return WS_OK;
}

int cpu_copy_rows(ws_backend *be, void *dst, const void *src, size_t row_bytes, size_t src_pitch,
                  size_t rows) {
    (void)be;
    for (size_t i = 0; i < rows; i++)
        memcpy((char *)dst + i * row_bytes, (const char *)src + i * src_pitch, row_bytes);
    return WS_OK;
}

int cpu_download_async(ws_backend *be, void *dst_host, const void *src, size_t bytes) {
    (void)be;
    if (bytes) memcpy(dst_host, src, bytes);
    return WS_OK;
}

int cpu_graph_capturable(ws_backend *be) {
    (void)be;
    return 0;
}

static int no_graphs(void) { return ws_errorf(WS_ERR_UNSUPPORTED, "cpu backend: no captured graphs"); }

int cpu_graph_begin(ws_backend *be) {
    (void)be;
    return no_graphs();
}

int cpu_graph_end(ws_backend *be, void **graph) {
    (void)be;
    *graph = NULL;
    return no_graphs();
}

int cpu_graph_launch(ws_backend *be, void *graph) {
    (void)be;
    (void)graph;
    return no_graphs();
}

void cpu_graph_free(ws_backend *be, void *graph) {
    (void)be;
    (void)graph;
}
