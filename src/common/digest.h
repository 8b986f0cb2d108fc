/* SHA-256 digests (OpenSSL libcrypto) as lowercase hex: the fingerprints of shard manifests and
 * of checkpoint files that resume compares. Incremental: init, update any number of times, final. */
#ifndef WEBSSL_COMMON_DIGEST_H
#define WEBSSL_COMMON_DIGEST_H

#include <stddef.h>

#define WS_DIGEST_HEX 65   /* 64 hex digits + NUL */

typedef struct ws_digest ws_digest;

/* NULL when out of memory. */
ws_digest *ws_digest_init(void);
void ws_digest_update(ws_digest *d, const void *data, size_t len);
/* Write the hex digest into hex[WS_DIGEST_HEX] and free d. */
void ws_digest_final(ws_digest *d, char hex[WS_DIGEST_HEX]);
/* One-shot digest of `len` bytes. WS_OK or WS_ERR_NOMEM. */
int ws_digest_hex(const void *data, size_t len, char hex[WS_DIGEST_HEX]);

#endif
