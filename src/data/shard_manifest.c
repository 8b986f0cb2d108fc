/* Shard manifests: stat lines for a tar or for each member of a FILES shard (see shard_manifest.h). */
#define _GNU_SOURCE
#include "data/shard_manifest.h"
#include "common/error.h"
#include "common/escape.h"
#include "data/stream_source.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* "<size>\t<sec>.<nsec>" or the reason the path cannot be stat'ed. Returns 0 when it does not exist. */
static int stat_fields(FILE *f, const char *path) {
    struct stat st;
    if (stat(path, &st) == 0) {
        fprintf(f, "%lld\t%lld.%09ld", (long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
        return 1;
    }
    int gone = errno == ENOENT || errno == ENOTDIR;
    fprintf(f, "%s", gone ? "missing" : strerror(errno));
    return !gone;
}

/* Print `s` escaped; 0 when out of memory. */
static int put_escaped(FILE *f, const char *s) {
    char *e = ws_escape_bytes(s);
    if (!e) return 0;
    fputs(e, f);
    free(e);
    return 1;
}

int shard_manifest_build(const ws_shard *s, const ws_stream_opts *stream, ws_manifest *m) {
    memset(m, 0, sizeof *m);
    char remote[640] = "";
    if (s->kind == WS_SHARD_STREAM && stream_source_kind(s->path) == WS_SOURCE_HTTP) {
        ws_stream_opts dflt;
        if (!stream) stream_opts_default(&dflt), stream = &dflt;
        int rc = stream_probe(s->path, stream, remote, sizeof remote);
        if (rc != WS_OK) return rc;
    }
    FILE *f = open_memstream(&m->text, &m->len);
    if (!f) return ws_errorf(WS_ERR_NOMEM, "out of memory building the manifest of shard %s", s->name);
    int ok = fputs("webssl-dist manifest 1\nsource\t", f) >= 0 && put_escaped(f, s->display);
    if (s->kind == WS_SHARD_TAR) {
        fputs("\ntar\t", f);
        stat_fields(f, s->path);
    }
    if (remote[0]) fprintf(f, "\nremote\t%s", remote);
    for (size_t i = 0; ok && s->kind == WS_SHARD_FILES && i < s->nfiles; i++) {
        fputc('\n', f);
        ok = put_escaped(f, s->keys[i]);
        fputc('\t', f);
        if (!stat_fields(f, s->files[i]) && !m->missing++) m->first_missing = s->files[i];
    }
    fputc('\n', f);
    ok = fclose(f) == 0 && ok;
    if (!ok || ws_digest_hex(m->text, m->len, m->digest) != WS_OK) {
        shard_manifest_free(m);
        return ws_errorf(WS_ERR_NOMEM, "out of memory building the manifest of shard %s", s->name);
    }
    return WS_OK;
}

void shard_manifest_free(ws_manifest *m) {
    free(m->text);
    memset(m, 0, sizeof *m);
}

/* Copy the line starting at p (tabs shown as spaces) into out. */
static void line_copy(const char *p, char *out, size_t len) {
    size_t n = strcspn(p, "\n"), k = n < len - 1 ? n : len - 1;
    for (size_t i = 0; i < k; i++) out[i] = p[i] == '\t' ? ' ' : p[i];
    out[k] = '\0';
}

void shard_manifest_diff(const char *was, const char *now, char *buf, size_t len) {
    const char *a = was, *b = now;
    while (*a && *b) {
        size_t na = strcspn(a, "\n"), nb = strcspn(b, "\n");
        if (na != nb || memcmp(a, b, na) != 0) break;
        a += na + (a[na] != '\0');
        b += nb + (b[nb] != '\0');
    }
    char la[160] = "(nothing)", lb[160] = "(nothing)";
    if (*a) line_copy(a, la, sizeof la);
    if (*b) line_copy(b, lb, sizeof lb);
    snprintf(buf, len, "was '%s', now '%s'", la, lb);
}
