/* Lossless text for arbitrary byte strings (file names are bytes, not UTF-8): a backslash becomes
 * "\\", and control bytes (< 0x20, 0x7f) and bytes that are not part of valid UTF-8 become "\xHH"
 * (lowercase hex). Every other character is kept. The result is valid UTF-8 with no tab or
 * newline, and the original bytes are recovered by undoing the two escapes. Used for the `key`
 * dataset of shard files and for the lines of shard manifests. */
#ifndef WEBSSL_COMMON_ESCAPE_H
#define WEBSSL_COMMON_ESCAPE_H

/* Escaped copy of `s` (malloc'ed; NULL when out of memory). */
char *ws_escape_bytes(const char *s);

#endif
