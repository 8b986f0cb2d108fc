/* The fingerprint of a checkpoint's content, stored in run.json so that a resumed run refuses
 * weights that changed at the same --model path. Per file the checkpoint was read from (the
 * safetensors or .pth files, plus config.json and preprocessor_config.json of an HF directory):
 * its size and the SHA-256 of a sample of its bytes: the first MiB (the safetensors header and
 * the first tensors), 64 blocks of 64 KiB spread evenly, and the last 64 KiB; files under 6 MiB
 * are hashed whole. About 5 MiB read per file whatever its size, so a 28 GB checkpoint costs
 * milliseconds. Content-based: copying a checkpoint elsewhere or touching it keeps the
 * fingerprint; retraining, converting or truncating changes it. */
#ifndef WEBSSL_LOADERS_CKPT_FINGERPRINT_H
#define WEBSSL_LOADERS_CKPT_FINGERPRINT_H

#include "loaders/checkpoint.h"

/* JSON object text {"<file name>": "<size> bytes, sha256 <first 16 hex digits>", ...} (file
 * names relative to the checkpoint path; malloc'ed into *json). WS_OK, or WS_ERR_IO naming the
 * file that cannot be read, or WS_ERR_NOMEM. */
int ckpt_fingerprint(const ws_ckpt *c, char **json);
/* The same for the checkpoint at `path` (opened and closed here). */
int ckpt_fingerprint_path(const char *path, char **json);

#endif
