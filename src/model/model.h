/* Internal state of a loaded model (webssl.h's ws_model), shared by model_load.c, forward.c
 * and posembed.c. */
#ifndef WEBSSL_MODEL_MODEL_H
#define WEBSSL_MODEL_MODEL_H

#include "backend/backend.h"
#include "model/activations.h"
#include "model/weights.h"
#include "webssl.h"

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
    ws_dtype bdt;           /* the all-reduce buffer `branch`: f32 */
    /* activations (model/activations.h), backend memory, sized for act_tokens = B*N rows and
     * cols_bytes of im2col (grown on demand); by name or as act[ACT_*] */
    size_t act_tokens, cols_bytes;
    union {
        struct {
            float *x;
            void *xn, *qkv, *att, *branch, *ffn, *hid, *cols;
            float *patches, *feat, *pix;
        };
        void *act[ACT_COUNT];
    };
    /* position embeddings interpolated for resolution pos_res ((1 + g*g) x C, backend memory) */
    float *pos_cur;
    int pos_res;
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

/* Allocate the model struct, backend, communicator and the one weight allocation for arch `a`
 * (weights uninitialised). Used by both constructors. */
int model_alloc(const ws_arch *a, const ws_model_options *o, ws_model **out);

#endif
