/* A checkpoint seen as a flat list of named tensors, whatever the file format: HuggingFace
 * directories (config.json + safetensors, sharded or not), bare .safetensors files, and PyTorch
 * .pth archives (plain state_dicts and SSL-teacher checkpoints). Tensor data stays in the
 * memory-mapped files; nothing is copied until a consumer reads a (slice of a) tensor with
 * ckpt_read_f32() / ckpt_read(). Each format's opener lives in its own file and fills this struct.
 *
 * Names are the file's own names (after the format's container is unwrapped: for a teacher .pth,
 * "teacher." is stripped). Mapping names onto model fields is loaders/namemap.h's job. */
#ifndef WEBSSL_LOADERS_CHECKPOINT_H
#define WEBSSL_LOADERS_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "common/dtype.h"
#include "common/arch.h"

#define WS_CKPT_MAX_DIMS 8

typedef struct {
    char *name;
    ws_dtype dtype;
    int ndim;
    int64_t shape[WS_CKPT_MAX_DIMS];
    int64_t stride[WS_CKPT_MAX_DIMS];  /* in elements; row-major contiguous for safetensors */
    const void *data;                  /* points into a mapping owned by the ws_ckpt */
    const char *file;                  /* file the tensor came from (for error messages) */
} ws_ckpt_tensor;

typedef struct {
    void *addr;
    size_t len;
} ws_mapping;

typedef enum { WS_CKPT_SAFETENSORS = 0, WS_CKPT_HF_DIR, WS_CKPT_PTH } ws_ckpt_format;

typedef struct ws_ckpt {
    ws_ckpt_format format;
    char *path;                  /* what the user passed */
    ws_ckpt_tensor *tensors;
    size_t num_tensors;
    ws_mapping *mappings;        /* one per mapped file */
    size_t num_mappings;
    char **files;                /* paths of the files read (tensor.file points into these) */
    size_t num_files;
    size_t cap_tensors;          /* allocated length of `tensors` */
    int has_arch;                /* 1 when the container described the architecture (config.json) */
    ws_arch arch;                /* valid when has_arch */
} ws_ckpt;

/* Open any supported checkpoint: a directory (HF), *.safetensors, or *.pth / *.pt (zip). The
 * format is detected from content: a directory is an HF directory, a file starting with the zip
 * magic "PK\x03\x04" or with torch's legacy pickle header is a .pth (also pytorch_model.bin),
 * anything else is read as safetensors. `out` is initialised here;
 * on failure it is left closed. Returns WS_OK or an error naming the file (and the tensor). */
int ckpt_open(const char *path, ws_ckpt *out);
void ckpt_close(ws_ckpt *c);

/* Format-specific openers (each in its own file). They append to an `out` that ckpt_open has
 * initialised (all zero plus `path`); on failure the caller closes `out`. */
int ckpt_open_safetensors(const char *path, ws_ckpt *out);   /* one file, appends to `out` */
int ckpt_open_hf_dir(const char *dir, ws_ckpt *out);
int ckpt_open_pth(const char *path, ws_ckpt *out);
/* Parse a whole safetensors file held in memory (`data`, `len` bytes; named `file` in messages)
 * and append its tensors, which point into `data`. Validates the header length, the JSON, dtypes,
 * shapes, offsets (inside the data, begin <= end, size = numel x element size) and overlaps. */
int ckpt_parse_safetensors(ws_ckpt *c, const char *file, const void *data, size_t len);

/* Append a tensor / mapping to `c` (used by the openers); the name is copied. */
int ckpt_add_tensor(ws_ckpt *c, const ws_ckpt_tensor *t);
int ckpt_add_mapping(ws_ckpt *c, void *addr, size_t len);
/* Record a file path read by an opener; returns the stored copy (for tensor.file), NULL when out
 * of memory. */
const char *ckpt_add_file(ws_ckpt *c, const char *path);
/* WS_OK when no two tensors share a name, else an error naming the tensor and both files. */
int ckpt_check_unique(const ws_ckpt *c);

const ws_ckpt_tensor *ckpt_find(const ws_ckpt *c, const char *name);
int64_t ckpt_numel(const ws_ckpt_tensor *t);

/* Read the 2-D window rows [r0, r0+nr) x cols [c0, c0+nc) of tensor `t` viewed as
 * [shape[0], prod(shape[1:])] into `dst` (row-major, nr x nc), converting to float. 1-D tensors
 * are one row. Honours strides. Returns WS_OK or WS_ERR_SHAPE if the window is out of range. */
int ckpt_read_f32(const ws_ckpt_tensor *t, int64_t r0, int64_t nr, int64_t c0, int64_t nc, float *dst);

#endif
