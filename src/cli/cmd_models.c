/* `webssl-dist models [--write-configs DIR]`: the built-in architectures with their shapes and
 * parameter counts; optionally each written as DIR/<name>.yaml (how configs/ is made). */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/flags.h"
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

typedef struct {
    const char *write_configs;
} models_options;

static const flag_spec flags[] = {
    FLAG("--write-configs", "DIR", FLAG_STRING, offsetof(models_options, write_configs),
     "write each architecture as DIR/<name>.yaml (how configs/ is made)"),
};

static const flag_table table = FLAG_TABLE("models", "Lists the built-in architectures.\n", flags);

int cmd_models(int argc, char **argv) {
    models_options o = {NULL};
    int code = flags_parse_or_exit(&table, argc, argv, &o, sizeof o, 1);
    if (code >= 0) return code;
    if (o.write_configs) return write_configs(o.write_configs);
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
