/* The captured forward passes of a model (see model.h): a few entries keyed by batch size,
 * resolution, input slot, input kind and outputs, dropped oldest first and all at once when a
 * buffer moves. */
#include "model/model.h"

#include <string.h>

model_graph *graph_cache_find(ws_model *m, int B, int R, int slot, int u8, int outputs) {
    model_graph *g = m->graphs;
    for (int i = 0; i < MODEL_GRAPHS; i++)
        if (g[i].B == B && g[i].R == R && g[i].slot == slot && g[i].u8 == u8 && g[i].outputs == outputs)
            return &g[i];
    if (g[MODEL_GRAPHS - 1].graph) m->be->ops->graph_free(m->be, g[MODEL_GRAPHS - 1].graph);
    memmove(&g[1], &g[0], (MODEL_GRAPHS - 1) * sizeof *g);
    g[0] = (model_graph){.B = B, .R = R, .slot = slot, .u8 = u8, .outputs = outputs};
    return &g[0];
}

void graph_cache_clear(ws_model *m) {
    for (int i = 0; i < MODEL_GRAPHS; i++) {
        if (m->graphs[i].graph) {
            m->be->ops->sync(m->be);   /* a launched graph may still run */
            m->be->ops->graph_free(m->be, m->graphs[i].graph);
        }
        m->graphs[i] = (model_graph){0};
    }
}
