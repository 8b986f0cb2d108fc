/* `webssl-dist inspect PATH [--arch NAME|FILE.yaml]`: a checkpoint's format, every tensor (name,
 * dtype, shape), totals, and the architecture it resolves to (or why none does). */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/flags.h"
#include "common/error.h"
#include "loaders/arch_match.h"
#include "loaders/checkpoint.h"

static const char *format_name(ws_ckpt_format f) {
    switch (f) {
    case WS_CKPT_HF_DIR: return "HuggingFace directory";
    case WS_CKPT_PTH: return "PyTorch .pth (zip)";
    default: return "safetensors";
    }
}

typedef struct {
    const char *path, *arch;
} inspect_options;

static const flag_spec flags[] = {
    FLAG("PATH", NULL, FLAG_STRING, offsetof(inspect_options, path), "HF model directory, .safetensors or .pth",
     .attrs = FLAG_REQUIRED),
    FLAG("--arch", "NAME|FILE.yaml", FLAG_STRING, offsetof(inspect_options, arch),
     "check the tensors against this architecture instead of matching"),
};

static const flag_table table = FLAG_TABLE("inspect",
    "Lists the tensors of PATH and the architecture they match.\n", flags);

int cmd_inspect(int argc, char **argv) {
    inspect_options o = {NULL, NULL};
    int code = flags_parse_or_exit(&table, argc, argv, &o, sizeof o, 1);
    if (code >= 0) return code;
    const char *path = o.path, *arch_flag = o.arch;
    ws_ckpt c;
    if (ckpt_open(path, &c) != WS_OK) {
        fprintf(stderr, "webssl-dist inspect: %s\n", ws_error_message());
        return WS_EXIT_USAGE;
    }
    printf("path:    %s\nformat:  %s\nfiles:   %zu\n", path, format_name(c.format), c.num_files);
    for (size_t i = 0; i < c.num_files; i++) printf("  %s\n", c.files[i]);
    size_t width = 4;
    for (size_t i = 0; i < c.num_tensors; i++)
        if (strlen(c.tensors[i].name) > width) width = strlen(c.tensors[i].name);
    printf("tensors: %zu\n", c.num_tensors);
    int64_t numel[WS_DTYPE_COUNT] = {0}, total = 0, bytes = 0;
    for (size_t i = 0; i < c.num_tensors; i++) {
        const ws_ckpt_tensor *t = &c.tensors[i];
        char shape[160];
        size_t k = (size_t)snprintf(shape, sizeof shape, "[");
        for (int d = 0; d < t->ndim && k < sizeof shape; d++)
            k += (size_t)snprintf(shape + k, sizeof shape - k, "%s%" PRId64, d ? ", " : "", t->shape[d]);
        if (k < sizeof shape) snprintf(shape + k, sizeof shape - k, "]");
        printf("  %-*s %-4s %s\n", (int)width, t->name, ws_dtype_name(t->dtype), shape);
        int64_t n = ckpt_numel(t);
        numel[t->dtype] += n;
        total += n;
        bytes += n * (int64_t)ws_dtype_size(t->dtype);
    }
    printf("total:   %" PRId64 " parameters, %" PRId64 " bytes (", total, bytes);
    for (int d = 0, first = 1; d < WS_DTYPE_COUNT; d++)
        if (numel[d]) {
            printf("%s%s %" PRId64, first ? "" : ", ", ws_dtype_name((ws_dtype)d), numel[d]);
            first = 0;
        }
    printf(")\n");

    ws_ckpt_layout L;
    if (arch_infer(&c, &L) == WS_OK)
        printf("layout:  %s, prefix '%s', %d blocks, patch %d, grid %dx%d, %s FFN hidden %d\n", L.layout->name,
               L.prefix, L.depth, L.patch_size, L.grid, L.grid, arch_ffn_name(L.ffn), L.ffn_hidden);
    else
        printf("layout:  unknown: %s\n", ws_error_message());
    ws_arch a;
    if (arch_for_checkpoint(&c, arch_flag, &a) == WS_OK) {
        const char *source = c.has_arch ? "config.json" : arch_flag ? "--arch" : "matched built-in";
        printf("architecture: %s (%s): %s, D %d, depth %d, heads %d, FFN %s %d, patch %d, res %d, %" PRId64
               " parameters\n", a.name, source, arch_family_name(a.family), a.embed_dim, a.depth, a.num_heads,
               arch_ffn_name(a.ffn), a.ffn_hidden, a.patch_size, a.img_size, arch_param_count(&a));
        const ws_preprocess *p = &a.preprocess;
        printf("preprocess: %s, resize %d, crop %d, mean [%g, %g, %g], std [%g, %g, %g]\n",
               p->mode == WS_PREPROCESS_CROP ? "crop" : "square", p->resize, p->crop, p->mean[0], p->mean[1],
               p->mean[2], p->std[0], p->std[1], p->std[2]);
    } else {
        printf("architecture: none: %s\n", ws_error_message());
    }
    ckpt_close(&c);
    return WS_EXIT_OK;
}
