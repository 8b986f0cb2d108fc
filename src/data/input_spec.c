/* Expansion of --input specifications into shard lists (see input_spec.h). */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <ftw.h>
#include <glob.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/file_open.h"
#include "common/log.h"
#include "data/input_spec.h"
#include "data/stream_source.h"
#include "data/wds_name.h"

#define MAX_EXPANSION 100000000   /* brace expansions per spec */

typedef struct { char **v; size_t n, cap; } strvec;

static int strvec_push(strvec *s, char *str) {
    if (!str) return ws_errorf(WS_ERR_NOMEM, "out of memory expanding the input spec");
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        char **v = realloc(s->v, cap * sizeof *v);
        if (!v) { free(str); return ws_errorf(WS_ERR_NOMEM, "out of memory expanding the input spec"); }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = str;
    return WS_OK;
}

static void strvec_free(strvec *s) {
    for (size_t i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

static int parse_long(const char *s, size_t n, long *out) {
    if (n == 0 || n > 18) return 0;
    for (size_t i = 0; i < n; i++) if (!isdigit((unsigned char)s[i])) return 0;
    *out = strtol(s, NULL, 10);
    return 1;
}

/* Expand the first {a..b} or {x,y} group of `s`, recursing on the results; no group: push s. */
static int brace_expand(const char *s, strvec *out) {
    const char *open = strchr(s, '{'), *close = NULL;
    int depth = 0;
    for (const char *p = open; p && *p; p++) {
        if (*p == '{') depth++;
        else if (*p == '}' && --depth == 0) { close = p; break; }
    }
    if (!open || !close) return strvec_push(out, strdup(s));
    size_t pre = (size_t)(open - s), inner = (size_t)(close - open - 1);
    const char *in = open + 1, *dots = strstr(in, "..");
    long a, b;
    int rc = WS_OK;
    if (dots && dots < close && parse_long(in, (size_t)(dots - in), &a) &&
        parse_long(dots + 2, (size_t)(close - dots - 2), &b)) {
        size_t la = (size_t)(dots - in), lb = (size_t)(close - dots - 2);
        int pad = (la > 1 && in[0] == '0') || (lb > 1 && dots[2] == '0');
        int width = pad ? (int)(la > lb ? la : lb) : 0;
        if (labs(b - a) >= MAX_EXPANSION)
            return ws_errorf(WS_ERR_ARG, "input spec '%s': brace range too large", s);
        for (long i = a;; i += a <= b ? 1 : -1) {
            char *t = NULL;
            if (asprintf(&t, "%.*s%0*ld%s", (int)pre, s, width, i, close + 1) < 0) t = NULL;
            if (!t) return ws_errorf(WS_ERR_NOMEM, "out of memory expanding the input spec");
            rc = brace_expand(t, out);
            free(t);
            if (rc < 0 || i == b) break;
        }
        return rc;
    }
    if (!memchr(in, ',', inner)) return strvec_push(out, strdup(s));   /* literal braces */
    const char *item = in;
    for (const char *p = in; p <= close && rc >= 0; p++) {
        if (p == close || *p == ',') {
            char *t = NULL;
            if (asprintf(&t, "%.*s%.*s%s", (int)pre, s, (int)(p - item), item, close + 1) < 0) t = NULL;
            if (!t) return ws_errorf(WS_ERR_NOMEM, "out of memory expanding the input spec");
            rc = brace_expand(t, out);
            free(t);
            item = p + 1;
        }
    }
    return rc;
}

/* `path` with its directory part before offset `keep` made canonical (realpath: absolute, no
 * "." or "..", links resolved) and the rest kept as written (a tar's base name is its shard's
 * name; a pattern stays a pattern); `keep` = strlen(path): the directory of a file. A copy of
 * `path` when the directory cannot be resolved; NULL when out of memory. */
static char *canonical_prefix(const char *path, size_t keep) {
    const char *slash = memrchr(path, '/', keep);
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    char *real = dir ? realpath(dir, NULL) : NULL, *out = NULL;
    if (!real) out = strdup(path);
    else if (asprintf(&out, "%s%s%s", real, strcmp(real, "/") ? "/" : "", slash ? slash + 1 : path) < 0) out = NULL;
    free(dir);
    free(real);
    return out;
}

/* A directory made canonical; a copy when it cannot be resolved. */
static char *canonical_dir(const char *dir) {
    char *real = realpath(dir, NULL);
    return real ? real : strdup(dir);
}

char *input_spec_canonical(const char *spec) {
    if (stream_source_kind(spec) != WS_SOURCE_LOCAL) return stream_source_redact(spec);
    char *path = NULL, *out = NULL;
    struct stat st;
    if (spec[0] == '@') path = canonical_prefix(spec + 1, strlen(spec + 1));
    else if (!spec[strcspn(spec, "*?[{")] && stat(spec, &st) == 0 && S_ISDIR(st.st_mode)) path = canonical_dir(spec);
    else path = canonical_prefix(spec, strcspn(spec, "*?[{"));
    if (path && asprintf(&out, "%s%s", spec[0] == '@' ? "@" : "", path) < 0) out = NULL;
    free(path);
    return out;
}

/* A file of a directory input is an image by the extension after the last dot of its name. */
static int has_image_ext(const char *path) {
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash)) return 0;
    return wds_ext_rank(WDS_IMAGE_EXTS_DEFAULT, dot + 1) >= 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* nftw has no user pointer: the directory walk collects into these (the walk is not reentrant,
 * specs are expanded once, by the CLI thread). */
static strvec *walk_out;
static size_t walk_root_len;
static int walk_rc;

static int walk_visit(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)st; (void)ftw;
    if (type == FTW_DNR) {
        walk_rc = ws_errorf(WS_ERR_IO, "cannot read directory %s", path);
        return 1;
    }
    if (type == FTW_SLN && has_image_ext(path)) LOG_WARN("%s: a symlink to nothing, left out", path);
    if (type == FTW_F && has_image_ext(path)) {
        const char *rel = path + walk_root_len;
        while (*rel == '/') rel++;
        if ((walk_rc = strvec_push(walk_out, strdup(rel))) < 0) return 1;
    }
    return 0;
}

/* The name base of a directory or list file: its base name, without extension for lists. */
static char *name_base(const char *path, int strip_ext) {
    char *copy = strdup(path), *real = realpath(path, NULL);
    const char *src = real ? real : copy;
    char *tmp = strdup(src ? src : "input");
    char *base = tmp ? strdup(basename(tmp)) : NULL;
    free(tmp); free(copy); free(real);
    if (base && strip_ext) {
        char *dot = strrchr(base, '.');
        if (dot && dot != base) *dot = '\0';
    }
    if (base && (!*base || !strcmp(base, "/"))) { free(base); base = strdup("input"); }
    return base;
}

/* Split `files` (keys; opened as root/key or key) into FILES shards of shard_size. Takes
 * ownership of the strings. */
static int split_files(const char *path, const char *root, strvec *keys, size_t shard_size,
                       int strip_ext, ws_shard_list *out) {
    char *base = name_base(path, strip_ext);
    size_t nsh = (keys->n + shard_size - 1) / shard_size;
    out->shards = calloc(nsh, sizeof *out->shards);
    if (!base || !out->shards) { free(base); return ws_errorf(WS_ERR_NOMEM, "out of memory listing %s", path); }
    for (size_t s = 0; s < nsh; s++) {
        ws_shard *sh = &out->shards[out->count++];
        size_t first = s * shard_size, n = keys->n - first < shard_size ? keys->n - first : shard_size;
        sh->kind = WS_SHARD_FILES;
        sh->nfiles = n;
        sh->from_dir = root != NULL;
        if (asprintf(&sh->name, "%s-%05zu", base, s) < 0) sh->name = NULL;
        sh->path = strdup(path);
        sh->display = root ? canonical_dir(path) : canonical_prefix(path, strlen(path));
        sh->keys = calloc(n, sizeof *sh->keys);
        sh->files = calloc(n, sizeof *sh->files);
        if (!sh->name || !sh->path || !sh->display || !sh->keys || !sh->files) { free(base); return ws_errorf(WS_ERR_NOMEM, "out of memory listing %s", path); }
        for (size_t i = 0; i < n; i++) {
            sh->keys[i] = keys->v[first + i];
            keys->v[first + i] = NULL;
            if (root) {
                if (asprintf(&sh->files[i], "%s/%s", root, sh->keys[i]) < 0) sh->files[i] = NULL;
            } else {
                sh->files[i] = strdup(sh->keys[i]);
            }
            if (!sh->files[i]) { free(base); return ws_errorf(WS_ERR_NOMEM, "out of memory listing %s", path); }
        }
    }
    free(base);
    return WS_OK;
}

static int expand_dir(const char *dir, size_t shard_size, ws_shard_list *out) {
    strvec keys = {0};
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/') len--;
    char *root = strndup(dir, len);
    if (!root) return ws_errorf(WS_ERR_NOMEM, "out of memory");
    walk_out = &keys;
    walk_root_len = len;
    walk_rc = WS_OK;
    /* Symlinks are followed; nftw visits a directory reached twice (a symlink loop) only once. */
    int rc = nftw(root, walk_visit, 32, 0) < 0
        ? ws_errorf(WS_ERR_IO, "cannot walk directory %s: %s", dir, strerror(errno)) : walk_rc;
    if (rc >= 0 && keys.n == 0)
        rc = ws_errorf(WS_ERR_ARG, "input directory %s holds no image files (jpg jpeg png webp gif bmp)", dir);
    if (rc >= 0) {
        qsort(keys.v, keys.n, sizeof *keys.v, cmp_str);
        rc = split_files(dir, root, &keys, shard_size, 0, out);
    }
    free(root);
    strvec_free(&keys);
    return rc;
}

static int expand_tars(const char *spec, strvec *pats, ws_shard_list *out);

/* A list line naming a tar shard rather than an image. */
static int is_shard_line(const char *line) {
    return stream_source_kind(line) != WS_SOURCE_LOCAL || shard_tar_suffix(line, strlen(line)) > 0;
}

static int expand_list(const char *list, size_t shard_size, ws_shard_list *out) {
    const char *why = NULL;
    int fd = ws_open_regular(list, NULL, &why);
    FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
    if (!f) {
        if (fd >= 0) close(fd);
        return ws_errorf(WS_ERR_IO, "cannot open list file %s: %s", list, fd >= 0 ? strerror(errno) : why);
    }
    strvec keys = {0};
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = WS_OK;
    while (rc >= 0 && (n = getline(&line, &cap, f)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
        if (n == 0 || line[0] == '#') continue;
        rc = strvec_push(&keys, strdup(line));
    }
    if (rc >= 0 && ferror(f)) rc = ws_errorf(WS_ERR_IO, "cannot read list file %s", list);
    free(line);
    fclose(f);
    if (rc >= 0 && keys.n == 0) rc = ws_errorf(WS_ERR_ARG, "list file %s names no images", list);
    size_t shards = 0;
    for (size_t i = 0; rc >= 0 && i < keys.n; i++) shards += is_shard_line(keys.v[i]);
    if (rc >= 0 && shards == keys.n) rc = expand_tars(list, &keys, out);
    else if (rc >= 0 && shards) rc = ws_errorf(WS_ERR_ARG, "list file %s mixes tar shards (URLs, pipe: or .tar paths) "
                                               "with images: list one kind", list);
    else if (rc >= 0) rc = split_files(list, NULL, &keys, shard_size, 1, out);
    strvec_free(&keys);
    return rc;
}

static char *tar_name(const char *path) {
    const char *slash = strrchr(path, '/');
    char *name = strdup(slash ? slash + 1 : path);
    if (!name) return NULL;
    size_t len = strlen(name);
    name[len - shard_tar_suffix(name, len)] = '\0';
    return name;
}

static int expand_tars(const char *spec, strvec *pats, ws_shard_list *out) {
    strvec paths = {0};
    int rc = WS_OK;
    size_t missing = 0;
    const char *first_missing = NULL;
    for (size_t i = 0; i < pats->n && rc >= 0; i++) {
        const char *p = pats->v[i];
        if (stream_source_kind(p) != WS_SOURCE_LOCAL) {
            rc = strvec_push(&paths, strdup(p));
        } else if (strpbrk(p, "*?[")) {
            glob_t g;
            int grc = glob(p, 0, NULL, &g);
            if (grc == GLOB_NOMATCH) rc = ws_errorf(WS_ERR_ARG, "input pattern '%s' matches nothing", p);
            else if (grc != 0) rc = ws_errorf(WS_ERR_IO, "input pattern '%s': glob failed", p);
            for (size_t k = 0; grc == 0 && k < g.gl_pathc && rc >= 0; k++)
                rc = strvec_push(&paths, strdup(g.gl_pathv[k]));
            if (grc == 0) globfree(&g);
        } else {
            struct stat st;
            if (stat(p, &st) != 0) {
                if (!missing++) first_missing = p;
            } else if (S_ISDIR(st.st_mode)) {
                rc = ws_errorf(WS_ERR_ARG, "input spec '%s': %s is a directory among several inputs", spec, p);
            } else {
                rc = strvec_push(&paths, strdup(p));
            }
        }
    }
    if (rc >= 0 && missing)
        rc = ws_errorf(WS_ERR_ARG, "input spec '%s': %zu file(s) missing, first %s", spec, missing, first_missing);
    if (rc >= 0 && paths.n == 0) rc = ws_errorf(WS_ERR_ARG, "input spec '%s' matches nothing", spec);
    if (rc >= 0 && !(out->shards = calloc(paths.n, sizeof *out->shards)))
        rc = ws_errorf(WS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc >= 0 && i < paths.n; i++) {
        ws_shard *sh = &out->shards[out->count++];
        int streamed = stream_source_kind(paths.v[i]) != WS_SOURCE_LOCAL;
        sh->kind = streamed ? WS_SHARD_STREAM : WS_SHARD_TAR;
        sh->path = paths.v[i];
        paths.v[i] = NULL;
        sh->display = streamed ? stream_source_redact(sh->path) : canonical_prefix(sh->path, strlen(sh->path));
        if (!(sh->name = streamed ? stream_source_name(sh->path) : tar_name(sh->path)))
            rc = streamed ? WS_ERR_ARG : ws_errorf(WS_ERR_NOMEM, "out of memory");
        else if (!sh->display)
            rc = ws_errorf(WS_ERR_NOMEM, "out of memory");
    }
    strvec_free(&paths);
    return rc;
}

/* Two shards with one name would write one output file. */
static int check_unique_names(const char *spec, const ws_shard_list *l) {
    char **names = malloc(l->count * sizeof *names);
    if (!names) return ws_errorf(WS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < l->count; i++) names[i] = l->shards[i].name;
    qsort(names, l->count, sizeof *names, cmp_str);
    int rc = WS_OK;
    for (size_t i = 1; i < l->count && rc >= 0; i++)
        if (!strcmp(names[i - 1], names[i]))
            rc = ws_errorf(WS_ERR_ARG, "input spec '%s': two shards are named '%s' (same file name in "
                           "different directories); their outputs would collide", spec, names[i]);
    free(names);
    return rc;
}

int input_spec_expand(const char *spec, size_t shard_size, ws_shard_list *out) {
    memset(out, 0, sizeof *out);
    if (!spec || !*spec) return ws_errorf(WS_ERR_ARG, "empty input spec");
    if (shard_size == 0) return ws_errorf(WS_ERR_ARG, "shard size must be positive");
    char *shown = stream_source_redact(spec);   /* the spec in messages */
    if (!shown) return ws_errorf(WS_ERR_NOMEM, "out of memory");
    int rc;
    if (spec[0] == '@') {
        rc = expand_list(spec + 1, shard_size, out);
    } else {
        strvec pats = {0};
        rc = brace_expand(spec, &pats);
        struct stat st;
        if (rc >= 0 && pats.n == 1 && !strpbrk(pats.v[0], "*?[") && stat(pats.v[0], &st) == 0 &&
            S_ISDIR(st.st_mode))
            rc = expand_dir(pats.v[0], shard_size, out);
        else if (rc >= 0)
            rc = expand_tars(shown, &pats, out);
        strvec_free(&pats);
    }
    if (rc >= 0) rc = check_unique_names(shown, out);
    if (rc < 0) shard_list_free(out);
    free(shown);
    return rc;
}

void shard_list_free(ws_shard_list *l) {
    if (!l) return;
    for (size_t i = 0; i < l->count; i++) {
        ws_shard *s = &l->shards[i];
        for (size_t k = 0; k < s->nfiles; k++) {
            if (s->files) free(s->files[k]);
            if (s->keys) free(s->keys[k]);
        }
        free(s->files); free(s->keys); free(s->name); free(s->path); free(s->display);
    }
    free(l->shards);
    memset(l, 0, sizeof *l);
}

const char *shard_kind_name(ws_shard_kind kind) {
    return kind == WS_SHARD_TAR ? "tar" : kind == WS_SHARD_STREAM ? "stream" : "files";
}
