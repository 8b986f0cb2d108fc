/* libFuzzer target: the WebDataset tar reader over an in-memory tar, read to the end. */
#include <stddef.h>
#include <stdint.h>

#include "common/log.h"
#include "data/tar_reader.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    ws_log_set_level(WS_LOG_ERROR);   /* per-sample warnings would dominate the run time */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tar_reader *t;
    if (tar_reader_open_memory(data, size, NULL, &t) != 0) return 0;
    ws_sample s;
    while (tar_reader_next(t, &s, "fuzz")) sample_free(&s);
    tar_reader_damaged(t, NULL);
    tar_reader_close(t);
    return 0;
}
