/* Internal state of a loaded model (webssl.h's ws_model), shared by model_load.c, forward.c
 * and posembed.c. */
#ifndef WEBSSL_MODEL_MODEL_H
#define WEBSSL_MODEL_MODEL_H

#include "backend/backend.h"
#include "model/activations.h"
#include "model/weights.h"
#include "webssl.h"

/* An input slot of ws_model_upload: what it holds and its backend buffer (grown on demand). */
typedef struct {
    void *buf;              /* backend memory: the uploaded uint8 or float images */
    size_t bytes;
    const float *host;      /* float images read in place (host-memory backends), else NULL */
    int B, R, u8;           /* B = 0: empty */
    float mean[3], std[3];  /* normalisation of uint8 images */
    float *out_host;        /* the outputs of the slot's last pass, [B, 2*C] or, with patch
                             * tokens, [B, (2+g2)*C] like ACT_OUT (the backend's host_alloc:
                             * pinned on CUDA) */
    size_t out_host_elems;
    ws_features pending;    /* the submitted pass's destinations, until ws_model_collect */
    int pending_B, pending_g2;  /* pending_B 0: nothing submitted */
} model_slot;

/* A captured forward pass (CUDA graph) and the shape it was captured for (the slot's normalisation
 * constants are baked in: ws_model_upload drops the cache when they change); graph NULL when the
 * entry is empty. `seen` counts eager runs of the shape (the second one captures). */
enum { MODEL_GRAPHS = 8 };
typedef struct {
    int B, R, slot, u8, outputs, seen;
    void *graph;
} model_graph;

struct ws_model {
    ws_arch arch;
    ws_model_options opt;
    ws_tp_slice tp;
    ws_backend *be;
    int own_be;             /* 1 when be was made here (not ws_model_options.backend) */
    char gemm_info[320];    /* the backend's GEMM path and CPU features (gemm_select) */
    ws_comm *comm;
    int own_comm;           /* 1 when comm was made here (comm_self) */
    ws_weights w;           /* pointers into wmem */
    void *wmem;             /* the one weight allocation (backend memory) */
    size_t wbytes;
    ws_dtype adt;           /* activations between ops (the backend's activation_dtype, at load) */
    int fused_swiglu;       /* SwiGLU runs as fc1's epilogue (the backend's fuses_swiglu, at load) */
    ws_dtype bdt;           /* the all-reduce buffer `branch`: f32, or bf16 with --allreduce bf16 at tp > 1 */
    /* activations (model/activations.h), backend memory, sized for act_tokens = B*N rows and
     * cols_bytes of im2col (grown on demand); by name or as act[ACT_*] */
    size_t act_tokens, cols_bytes;
    union {
        struct {
            float *x;
            void *xn, *qkv, *att, *branch, *ffn, *hid, *cols;
            float *patches, *out, *pix;
        };
        void *act[ACT_COUNT];
    };
    /* position embeddings interpolated for resolution pos_res ((1 + g*g) x C, backend memory) */
    float *pos_cur;
    int pos_res;
    /* the host pipeline (forward.c): two input slots, each with the outputs of its pass, and
     * the captured passes (graph_cache.c) */
    model_slot slot[2];
    model_graph graphs[MODEL_GRAPHS];
};

_Static_assert(sizeof(((ws_model *)0)->act) == ACT_COUNT * sizeof(void *),
               "ws_model: one named activation pointer per ws_act, in enum order");

/* Position embeddings for resolution R (g = R / P): the native table when g is the native grid,
 * else interpolated with m->opt.posembed into m->pos_cur (cached). NULL with an error message
 * when out of memory. */
const float *model_posembed(ws_model *m, int R);

/* Interpolate a [g_old*g_old, C] grid of embeddings (host memory, row-major over (y, x)) to
 * [g_new*g_new, C] with `rule` (see ws_posembed_rule). WS_OK or WS_ERR_NOMEM. */
int posembed_interpolate(float *dst, const float *src, int g_old, int g_new, int C, ws_posembed_rule rule);

/* The captured-pass cache (graph_cache.c). graph_cache_find returns the entry for the shape (u8:
 * the pass normalises uint8 input)
 * (made, with seen 0, when absent; the oldest is dropped when full); graph_cache_clear frees every
 * graph, needed whenever a buffer a graph refers to moves (activations, slots, outputs, position
 * table). */
model_graph *graph_cache_find(ws_model *m, int B, int R, int slot, int u8, int outputs);
void graph_cache_clear(ws_model *m);

/* Allocate the model struct, backend, communicator and the one weight allocation for arch `a`
 * (weights uninitialised). Used by both constructors. */
int model_alloc(const ws_arch *a, const ws_model_options *o, ws_model **out);

#endif
