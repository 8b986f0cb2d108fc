/* PyTorch .pth archives held in memory: the part of ckpt_open_pth() after the file is mapped,
 * exposed for the fuzz target and for callers that already hold the bytes. */
#ifndef WEBSSL_LOADERS_PTH_H
#define WEBSSL_LOADERS_PTH_H

#include <stddef.h>

#include "loaders/checkpoint.h"

/* Parse the archive data[0, len) (zip + data.pkl) and append its float tensors to `out`; tensor
 * data points into `data`, which must outlive `out`. `label` names the input in messages.
 * Returns WS_OK or an error naming the input, the entry or the tensor. */
int ckpt_parse_pth(ws_ckpt *out, const char *label, const void *data, size_t len);

#endif
