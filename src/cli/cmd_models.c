/* `webssl-dist models`: the built-in architectures with their shapes and parameter counts. */
#include <inttypes.h>
#include <stdio.h>

#include "cli/commands.h"
#include "model/arch.h"

int cmd_models(int argc, char **argv) {
    (void)argc; (void)argv;
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
