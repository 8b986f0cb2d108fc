/* libFuzzer target for the safetensors header parser: the input is a whole file. Whatever it
 * holds, parsing must fail cleanly or give tensors whose data lies inside the input (every
 * tensor is read in full, so ASan sees any out-of-bounds offset), and the name-layout inference
 * must not misbehave on the names it finds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loaders/arch_match.h"
#include "loaders/checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ws_ckpt c = {.path = strdup("fuzz.safetensors")};
    if (ckpt_parse_safetensors(&c, "fuzz.safetensors", data, size) == 0 && ckpt_check_unique(&c) == 0) {
        for (size_t i = 0; i < c.num_tensors; i++) {
            const ws_ckpt_tensor *t = &c.tensors[i];
            int64_t rows = t->ndim >= 2 ? t->shape[0] : 1, n = ckpt_numel(t);
            int64_t cols = rows ? n / rows : 0;
            float *buf = malloc((size_t)(n ? n : 1) * sizeof *buf);
            if (buf && ckpt_read_f32(t, 0, rows, 0, cols, buf) != 0) abort();
            free(buf);
        }
        ws_ckpt_layout L;
        arch_infer(&c, &L);
    }
    ckpt_close(&c);
    return 0;
}
