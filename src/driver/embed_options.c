/* The embed options' defaults and the checks that span several of them (see embed_options.h). */
#include "driver/embed_options.h"
#include "common/error.h"
#include "data/input_spec.h"
#include "data/wds_name.h"
#include "io/h5_writer.h"
#include "common/dtype.h"

#include <string.h>

void embed_options_default(embed_options *o) {
    memset(o, 0, sizeof *o);
    o->device = "cpu";
    o->tp = 1;
    o->batch = 32;
    o->decode_threads = 2;
    o->dtype = WS_DTYPE_F32;
    o->allreduce = WS_DTYPE_F32;
    o->out_dtype = WS_DTYPE_F16;
    o->features = WS_FEAT_CLS | WS_FEAT_PATCH_MEAN;
    o->preprocess = -1;
    o->posembed = -1;
    o->shard_size = WS_DEFAULT_SHARD_SIZE;
    stream_opts_default(&o->stream);
    o->read_ahead = WS_DEFAULT_READ_AHEAD;
}

int embed_options_check(const embed_options *o) {
    if (o->head && !(o->features & (WS_FEAT_HEAD | WS_FEAT_PROTO)))
        return ws_errorf(WS_ERR_ARG, "--head %s: only used with --features head or proto", o->head);
    if (o->image_exts) return wds_ext_list_check(o->image_exts);
    return WS_OK;
}
