/* SHA-256 through OpenSSL's EVP interface (see digest.h). */
#include "common/digest.h"
#include "common/error.h"

#include <openssl/evp.h>
#include <stdio.h>

/* A ws_digest is an EVP_MD_CTX under another name. */
ws_digest *ws_digest_init(void) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx) return NULL;
    if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return NULL;
    }
    return (ws_digest *)ctx;
}

void ws_digest_update(ws_digest *d, const void *data, size_t len) {
    if (len) EVP_DigestUpdate((EVP_MD_CTX *)d, data, len);
}

void ws_digest_final(ws_digest *d, char hex[WS_DIGEST_HEX]) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex((EVP_MD_CTX *)d, md, &n);
    EVP_MD_CTX_free((EVP_MD_CTX *)d);
    for (unsigned int i = 0; i < n && i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
    hex[64] = '\0';
}

int ws_digest_hex(const void *data, size_t len, char hex[WS_DIGEST_HEX]) {
    ws_digest *d = ws_digest_init();
    if (!d) return ws_errorf(WS_ERR_NOMEM, "out of memory computing a SHA-256 digest");
    ws_digest_update(d, data, len);
    ws_digest_final(d, hex);
    return WS_OK;
}
