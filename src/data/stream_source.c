/* Kinds, names and redaction of streamed shard sources (see stream_source.h). */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/error.h"
#include "data/stream_source.h"

/* Length of a "scheme" before "://" at s, or 0. */
static size_t scheme_len(const char *s) {
    size_t n = 0;
    if (!isalpha((unsigned char)s[0])) return 0;
    while (isalnum((unsigned char)s[n]) || s[n] == '+' || s[n] == '-' || s[n] == '.') n++;
    return strncmp(s + n, "://", 3) ? 0 : n;
}

ws_source_kind stream_source_kind(const char *spec) {
    if (!strncmp(spec, "pipe:", 5)) return WS_SOURCE_PIPE;
    size_t n = scheme_len(spec);
    if (!n) return WS_SOURCE_LOCAL;
    if ((n == 4 && !strncasecmp(spec, "http", 4)) || (n == 5 && !strncasecmp(spec, "https", 5)))
        return WS_SOURCE_HTTP;
    return WS_SOURCE_UNSUPPORTED;
}

size_t shard_tar_suffix(const char *name, size_t len) {
    static const char *sfx[] = {".tar.gz", ".tgz", ".tar"};
    for (size_t i = 0; i < 3; i++) {
        size_t k = strlen(sfx[i]);
        if (len > k && !strncmp(name + len - k, sfx[i], k)) return k;
    }
    return 0;
}

/* The base name of s[0..len) after dropping ?query / #fragment, without a tar suffix. */
static char *base_name(const char *s, size_t len) {
    size_t end = strcspn(s, "?#");
    if (end < len) len = end;
    while (len > 0 && s[len - 1] == '/') len--;
    size_t start = len;
    while (start > 0 && s[start - 1] != '/') start--;
    size_t stem = len - start - shard_tar_suffix(s + start, len - start);
    return stem ? strndup(s + start, stem) : NULL;
}

static char *pipe_name(const char *cmd) {
    const char *pick = NULL, *slashy = NULL;
    size_t pick_len = 0, slashy_len = 0;
    for (const char *p = cmd; *p;) {
        while (*p && isspace((unsigned char)*p)) p++;
        const char *w = p;
        while (*p && !isspace((unsigned char)*p)) p++;
        size_t len = (size_t)(p - w);
        while (len && (*w == '\'' || *w == '"')) w++, len--;
        while (len && strchr("'\";|&)", w[len - 1])) len--;   /* quotes, shell punctuation */
        if (!len) continue;
        size_t q = strcspn(w, "?#");
        if (shard_tar_suffix(w, q < len ? q : len)) pick = w, pick_len = len;
        else if (memchr(w, '/', len)) slashy = w, slashy_len = len;
    }
    if (!pick) pick = slashy, pick_len = slashy_len;
    return pick ? base_name(pick, pick_len) : NULL;
}

char *stream_source_name(const char *spec) {
    char *name = NULL;
    if (stream_source_kind(spec) == WS_SOURCE_PIPE) {
        name = pipe_name(spec + 5);
    } else {
        size_t n = scheme_len(spec);
        const char *rest = spec + n + 3, *path = rest + strcspn(rest, "/?#");
        if (*path == '/') name = base_name(path, strlen(path));
    }
    if (name && *name && strcmp(name, ".") && strcmp(name, "..")) return name;
    free(name);
    char *shown = stream_source_redact(spec);
    ws_errorf(WS_ERR_ARG, "input %s: no shard name in it (the last path element names the output file: "
              "give a path such as .../shard-0001.tar)", shown ? shown : "(source)");
    free(shown);
    return NULL;
}

char *stream_source_redact(const char *text) {
    size_t len = strlen(text);
    char *out = malloc(2 * len + 16), *o = out;   /* each URL grows by at most "***@" + "?***" */
    if (!out) return NULL;
    const char *p = text;
    while (*p) {
        const char *sep = strstr(p, "://");
        if (!sep) break;
        const char *auth = sep + 3, *url_end = auth + strcspn(auth, " \t\n'\"");
        const char *auth_end = auth + strcspn(auth, "/?# \t\n'\"");
        const char *at = memrchr(auth, '@', (size_t)(auth_end - auth));
        memcpy(o, p, (size_t)(auth - p)), o += auth - p;
        if (at) memcpy(o, "***@", 4), o += 4, auth = at + 1;
        const char *q = memchr(auth, '?', (size_t)(url_end - auth));
        const char *frag = memchr(auth, '#', (size_t)(url_end - auth));
        if (q && (!frag || q < frag)) {
            memcpy(o, auth, (size_t)(q - auth)), o += q - auth;
            memcpy(o, "?***", 4), o += 4;
            auth = frag ? frag : url_end;
        }
        memcpy(o, auth, (size_t)(url_end - auth)), o += url_end - auth;
        p = url_end;
    }
    strcpy(o, p);
    return out;
}
