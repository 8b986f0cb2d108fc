/* Name table of the DINO head (see namemap_head.h). */
#include "loaders/namemap_head.h"
#include "loaders/namemap.h"

#include <string.h>

#define HEAD_TAG "dino_head."

typedef struct {
    const char *pattern;   /* after the prefix ending in HEAD_TAG */
    ws_head_part part;
    int seq_index;         /* 1: {i} is the nn.Sequential index of an MLP Linear layer */
} head_entry;

static const head_entry entries[] = {
    {"mlp.{i}.weight", WS_HEAD_MLP_W, 1},
    {"mlp.{i}.bias", WS_HEAD_MLP_B, 1},
    {"mlp.weight", WS_HEAD_MLP_W, 0},
    {"mlp.bias", WS_HEAD_MLP_B, 0},
    {"last_layer.weight_g", WS_HEAD_PROTO_G, 0},
    {"last_layer.weight_v", WS_HEAD_PROTO_V, 0},
    {"last_layer.parametrizations.weight.original0", WS_HEAD_PROTO_G, 0},
    {"last_layer.parametrizations.weight.original1", WS_HEAD_PROTO_V, 0},
    {"last_layer.weight", WS_HEAD_PROTO_W, 0},
};

int namemap_head_resolve(const char *name, size_t *prefix_len, ws_head_part *part, int *layer) {
    const char *p = strstr(name, HEAD_TAG);
    while (p && p != name && p[-1] != '.') p = strstr(p + 1, HEAD_TAG);
    if (!p) return 0;
    *prefix_len = (size_t)(p - name) + strlen(HEAD_TAG);
    const char *rest = name + *prefix_len;
    for (size_t k = 0; k < sizeof entries / sizeof entries[0]; k++) {
        int i;
        if (!namemap_match(entries[k].pattern, rest, &i)) continue;
        if (entries[k].seq_index && i % 2) return -1;   /* odd indices hold no Linear */
        *part = entries[k].part;
        *layer = entries[k].seq_index ? i / 2 : 0;
        return 1;
    }
    return -1;
}
