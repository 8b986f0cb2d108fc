/* The JSON files of a HuggingFace model directory, written for an architecture so that
 * transformers' from_pretrained (and loaders/hf_dir.c) read it back as that architecture:
 * config.json (Dinov2Model with use_swiglu_ffn for Web-DINO, ViTModel for Web-MAE) and
 * preprocessor_config.json (BitImageProcessor: PIL bicubic resize, optional center crop, rescale,
 * ImageNet-style normalisation from the architecture's preprocessing). */
#ifndef WEBSSL_LOADERS_HF_DIR_WRITE_H
#define WEBSSL_LOADERS_HF_DIR_WRITE_H

#include "common/dtype.h"
#include "common/arch.h"

/* DIR/config.json for `a` with torch_dtype from dt. WS_OK, WS_ERR_UNSUPPORTED when transformers
 * cannot express `a` (a SwiGLU width off the mlp_ratio rule), WS_ERR_IO naming the file. */
int hf_dir_write_config(const char *dir, const ws_arch *a, ws_dtype dt);
/* DIR/preprocessor_config.json for a's preprocessing. WS_OK or WS_ERR_IO naming the file. */
int hf_dir_write_preprocessor(const char *dir, const ws_arch *a);

#endif
