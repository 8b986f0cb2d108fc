/* libFuzzer target for the .pth container: the input is a whole file. The zip reader must fail
 * cleanly or give entries inside the input (each is read in full, so ASan sees any out-of-bounds
 * offset); the input is then read as a checkpoint, zip or legacy layout (pickles through the
 * restricted unpickler, storages checked against their entries or the bytes left) and every
 * tensor is read in full. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "loaders/pth.h"
#include "loaders/zip.h"

static volatile uint8_t sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ws_log_set_level(WS_LOG_ERROR);
    ws_zip z;
    if (zip_open_mem(data, size, "fuzz.pth", &z) == 0) {
        for (size_t i = 0; i < z.num_entries; i++) {
            const uint8_t *p = zip_entry_data(&z, &z.entries[i]);
            for (uint64_t k = 0; k < z.entries[i].size; k++) sink += p[k];
        }
        zip_close(&z);
    }
    ws_ckpt c = {.path = strdup("fuzz.pth")};
    if (ckpt_parse_pth(&c, "fuzz.pth", data, size) == 0) {
        for (size_t i = 0; i < c.num_tensors; i++) {
            const ws_ckpt_tensor *t = &c.tensors[i];
            int64_t rows = t->ndim >= 2 ? t->shape[0] : 1, n = ckpt_numel(t);
            int64_t cols = rows ? n / rows : 0;
            if (n > (1 << 24)) continue;   /* a valid but huge view of a small storage: skip the copy */
            float *buf = malloc((size_t)(n ? n : 1) * sizeof *buf);
            if (buf && ckpt_read_f32(t, 0, rows, 0, cols, buf) != 0) abort();
            free(buf);
        }
    }
    ckpt_close(&c);
    return 0;
}
