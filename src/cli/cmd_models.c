/* `webssl-dist models [--write-configs DIR]`: the built-in architectures with their shapes and
 * parameter counts; optionally each written as DIR/<name>.yaml (how configs/ is made). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "common/error.h"
#include "common/arch.h"

static int write_configs(const char *dir) {
    for (size_t i = 0; i < arch_builtin_count(); i++) {
        const ws_arch *a = arch_builtin_at(i);
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.yaml", dir, a->name);
        if (arch_write_yaml(a, path) != WS_OK) {
            fprintf(stderr, "webssl-dist models: %s\n", ws_error_message());
            return WS_EXIT_USAGE;
        }
        printf("%s\n", path);
    }
    return WS_EXIT_OK;
}

int cmd_models(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--write-configs")) return write_configs(argv[2]);
    if (argc > 1) {
        FILE *f = strcmp(argv[1], "--help") && strcmp(argv[1], "-h") ? stderr : stdout;
        fprintf(f, "usage: webssl-dist models [--write-configs DIR]\n"
                   "  lists the built-in architectures; --write-configs writes each as DIR/<name>.yaml\n");
        return f == stdout ? WS_EXIT_OK : WS_EXIT_USAGE;
    }
    printf("%-32s %-6s %5s %5s %5s %6s %5s %4s %14s\n", "name", "family", "D", "depth", "heads",
           "ffn", "patch", "res", "params");
    for (size_t i = 0; i < arch_builtin_count(); i++) {
        const ws_arch *a = arch_builtin_at(i);
        printf("%-32s %-6s %5d %5d %5d %6d %5d %4d %14" PRId64 "\n", a->name,
               arch_family_name(a->family), a->embed_dim, a->depth, a->num_heads, a->ffn_hidden,
               a->patch_size, a->img_size, arch_param_count(a));
    }
    return WS_EXIT_OK;
}
