/* PyTorch .pth checkpoints (zip archive + pickle); being written. */
#include "loaders/checkpoint.h"
#include "common/error.h"

int ckpt_open_pth(const char *path, ws_ckpt *out) {
    return ws_errorf(WS_ERR_UNSUPPORTED, "%s: .pth checkpoints are not readable yet", path);
}
