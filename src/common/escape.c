/* Byte-string escaping (see escape.h). */
#include "common/escape.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Length of the valid UTF-8 sequence starting at p (1-4), or 0 when it is not one (overlong
 * forms, surrogates and code points above U+10FFFF are invalid, as in Python's decoder). */
static size_t utf8_len(const unsigned char *p) {
    unsigned c = p[0];
    if (c < 0x80) return 1;
    size_t n;
    unsigned lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) n = 2;
    else if (c >= 0xe0 && c <= 0xef) n = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
    else if (c >= 0xf0 && c <= 0xf4) n = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
    else return 0;
    if (p[1] < lo || p[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if ((p[i] & 0xc0) != 0x80) return 0;
    return n;
}

char *ws_escape_bytes(const char *s) {
    size_t len = strlen(s);
    char *out = malloc(4 * len + 1), *o = out;
    if (!out) return NULL;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n = utf8_len(p);
        if (*p == '\\') {
            *o++ = '\\', *o++ = '\\', p++;
        } else if (n == 0 || *p < 0x20 || *p == 0x7f) {
            o += sprintf(o, "\\x%02x", *p++);
        } else {
            memcpy(o, p, n);
            o += n, p += n;
        }
    }
    *o = '\0';
    return out;
}
