/* Output directory: lock, run configuration, names, temp cleanup (see run_dir.h). */
#include "io/run_dir.h"
#include "common/error.h"
#include "common/file_open.h"
#include "common/log.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static int mkdir_p(const char *dir) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) return -1;
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(path, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

int run_dir_prepare(const char *dir) {
    struct stat st;
    if (mkdir_p(dir) != 0)
        return ws_errorf(WS_ERR_IO, "--output %s: cannot create directory: %s", dir, strerror(errno));
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return ws_errorf(WS_ERR_IO, "--output %s: not a directory", dir);
    char probe[4096];
    const char *why = NULL;
    snprintf(probe, sizeof probe, "%s/.write-test.%d", dir, (int)getpid());
    unlink(probe);   /* left by a crash of a process with this pid; a link there is removed, not followed */
    int fd = ws_open_no_link(probe, O_WRONLY | O_CREAT | O_EXCL, 0644, NULL, &why);
    if (fd < 0) return ws_errorf(WS_ERR_IO, "--output %s: not writable: %s: %s", dir, probe, why);
    close(fd);
    unlink(probe);
    return WS_OK;
}

int run_dir_lock(const char *dir, int *fd) {
    char path[4096];
    snprintf(path, sizeof path, "%s/.lock", dir);
    const char *why = NULL;
    int f = ws_open_no_link(path, O_RDWR | O_CREAT, 0644, NULL, &why);
    if (f < 0) return ws_errorf(WS_ERR_IO, "%s: cannot open lock file: %s", path, why);
    if (flock(f, LOCK_EX | LOCK_NB) != 0) {
        char holder[256] = "";
        ssize_t n = pread(f, holder, sizeof holder - 1, 0);
        holder[n > 0 ? n : 0] = '\0';
        holder[strcspn(holder, "\n")] = '\0';
        close(f);
        return ws_errorf(WS_ERR_IO, "%s: another job is writing to %s (lock held by %s); refusing to start",
                         path, dir, holder[0] ? holder : "an unknown process");
    }
    char host[256] = "unknown", line[300];
    gethostname(host, sizeof host);
    host[sizeof host - 1] = '\0';
    int len = snprintf(line, sizeof line, "host %s pid %d\n", host, (int)getpid());
    if (ftruncate(f, 0) != 0 || pwrite(f, line, (size_t)len, 0) != len) {
        close(f);
        return ws_errorf(WS_ERR_IO, "%s: cannot write lock file: %s", path, strerror(errno));
    }
    *fd = f;
    return WS_OK;
}

void run_dir_unlock(int fd) {
    if (fd >= 0) close(fd);  /* closing the descriptor releases the flock */
}

/* The text of the regular file open on fd (closed here), or NULL. */
static char *read_text(int fd) {
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        return NULL;
    }
    char *buf = NULL;
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0) len = ftell(f);
    if (len >= 0 && len < (1 << 20) && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)len + 1))) {
        if (fread(buf, 1, (size_t)len, f) != (size_t)len) {
            free(buf);
            buf = NULL;
        } else {
            buf[len] = '\0';
        }
    }
    fclose(f);
    return buf;
}

static int write_config(const char *path, const char *json) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    unlink(tmp);   /* as in run_dir_prepare */
    const char *why = NULL;
    int fd = ws_open_no_link(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644, NULL, &why);
    if (fd < 0) return ws_errorf(WS_ERR_IO, "%s: cannot create: %s", tmp, why);
    FILE *f = fdopen(fd, "w");
    if (!f) close(fd);
    int ok = f && fputs(json, f) >= 0 && fputc('\n', f) != EOF;
    if (f) ok = (fflush(f) == 0 && fsync(fileno(f)) == 0) && ok, ok = fclose(f) == 0 && ok;
    if (ok && rename(tmp, path) == 0) return WS_OK;
    int rc = ws_errorf(WS_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    unlink(tmp);
    return rc;
}

/* The dotted name of the first field of `now` that `old` lacks or holds differently (objects are
 * compared field by field, so "weights.model.safetensors" names the changed file), or NULL. */
static const cJSON *first_change(const cJSON *old, const cJSON *now, char *name, size_t len, const cJSON **was) {
    const cJSON *item;
    size_t used = strlen(name);
    cJSON_ArrayForEach(item, now) {
        const cJSON *w = cJSON_GetObjectItemCaseSensitive(old, item->string);
        if (w && cJSON_Compare(w, item, 1)) continue;
        snprintf(name + used, len - used, "%s%s", used ? "." : "", item->string);
        if (w && cJSON_IsObject(w) && cJSON_IsObject(item)) {
            const cJSON *inner = first_change(w, item, name, len, was);
            if (inner) return inner;
            /* same fields of `now`, but `old` has more: report the object as a whole */
        }
        *was = w;
        return item;
    }
    name[used] = '\0';
    return NULL;
}

/* The inputs field of the earlier configuration `old` against `now`'s: WS_OK when the same; when
 * they differ, WS_ERR_ARG naming both unless `overwrite`. When the new value is to be stored
 * (overwrite, or an earlier run.json without the field), it replaces the old one in `old` and
 * *rewrite is set. */
static int check_inputs(cJSON *old, const cJSON *now, const char *field, int overwrite, const char *path,
                        const char *dir, int *rewrite) {
    const cJSON *was = cJSON_GetObjectItemCaseSensitive(old, field), *is = cJSON_GetObjectItemCaseSensitive(now, field);
    if (!is || (was && cJSON_Compare(was, is, 1))) return WS_OK;
    char *a = was ? cJSON_PrintUnformatted(was) : NULL, *b = cJSON_PrintUnformatted(is);
    int rc = WS_OK;
    if (was && !overwrite)
        rc = ws_errorf(WS_ERR_ARG,
                       "%s: this run's %s is %s but the earlier run into %s used %s: shards of the same name "
                       "would be replaced by others; use the same inputs to resume, --overwrite to redo those "
                       "shards from the new inputs, or another --output", path, field, b ? b : "?", dir, a ? a : "?");
    else if (was)
        LOG_WARN("%s: %s changed from %s to %s (--overwrite): shards of the same name are redone from the new inputs",
                 path, field, a ? a : "?", b ? b : "?");
    free(a);
    free(b);
    cJSON *copy = rc == WS_OK ? cJSON_Duplicate(is, 1) : NULL;
    if (copy && was) cJSON_ReplaceItemInObjectCaseSensitive(old, field, copy);
    else if (copy) cJSON_AddItemToObject(old, field, copy);
    if (rc == WS_OK && !copy) rc = ws_errorf(WS_ERR_NOMEM, "run configuration");
    *rewrite = rc == WS_OK;
    return rc;
}

/* Each field of `defaults` that `o` lacks, added to it. */
static int fill_defaults(cJSON *o, const cJSON *defaults) {
    const cJSON *d;
    cJSON_ArrayForEach(d, defaults) {
        if (cJSON_GetObjectItemCaseSensitive(o, d->string)) continue;
        cJSON *copy = cJSON_Duplicate(d, 1);
        if (!copy || !cJSON_AddItemToObject(o, d->string, copy)) return cJSON_Delete(copy), WS_ERR_NOMEM;
    }
    return WS_OK;
}

/* WS_OK when `old` and `now` record the same fields with the same values, else WS_ERR_ARG naming
 * the first difference: a field of `now` that `old` lacks or holds otherwise, then one that only
 * `old` holds. */
static int compare_config(const cJSON *old, const cJSON *now, const char *path, const char *dir) {
    char name[512] = "";
    const cJSON *was = NULL, *is = first_change(old, now, name, sizeof name, &was);
    if (!is) {   /* the other way round: a field only the earlier run recorded */
        const cJSON *only = first_change(now, old, name, sizeof name, &is);
        if (!only) return WS_OK;
        was = only;
    }
    char *a = was ? cJSON_PrintUnformatted(was) : NULL, *b = is ? cJSON_PrintUnformatted(is) : NULL;
    int rc = ws_errorf(WS_ERR_ARG,
                       "%s: this run's %s is %s but the earlier run into %s used %s; use the same "
                       "settings to resume, or another --output",
                       path, name, b ? b : "(not set)", dir, a ? a : "(not set)");
    free(a);
    free(b);
    return rc;
}

int run_dir_check_config(const char *dir, const char *config_json, const char *defaults_json, const char *inputs,
                         int overwrite) {
    char path[4096];
    const char *why = NULL;
    snprintf(path, sizeof path, "%s/run.json", dir);
    int fd = ws_open_no_link(path, O_RDONLY, 0, NULL, &why);
    if (fd < 0 && errno == ENOENT) return write_config(path, config_json);
    if (fd < 0) return ws_errorf(WS_ERR_IO, "%s: %s; remove it or use another --output", path, why);
    char *old_text = read_text(fd);
    if (!old_text) return ws_errorf(WS_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    cJSON *old = cJSON_Parse(old_text), *now = cJSON_Parse(config_json);
    cJSON *defaults = defaults_json ? cJSON_Parse(defaults_json) : cJSON_CreateObject();
    free(old_text);
    int rc = WS_OK, rewrite = 0;
    if (!now || !defaults) {
        rc = ws_errorf(WS_ERR_ARG, "run configuration is not valid JSON");
    } else if (!old || !cJSON_IsObject(old)) {
        rc = ws_errorf(WS_ERR_ARG, "%s: not a JSON object; remove it or use another --output", path);
    } else if ((rc = check_inputs(old, now, inputs, overwrite, path, dir, &rewrite)) == WS_OK) {
        if (fill_defaults(old, defaults) != WS_OK || fill_defaults(now, defaults) != WS_OK)
            rc = ws_errorf(WS_ERR_NOMEM, "run configuration");
        else
            rc = compare_config(old, now, path, dir);
    }
    if (rc == WS_OK && rewrite) rc = write_config(path, config_json);
    cJSON_Delete(old);
    cJSON_Delete(now);
    cJSON_Delete(defaults);
    return rc;
}

/* ".<shard>.h5.tmp.<job>.<rank>" as run_dir_tmp_path makes it (rank: digits), or the index's
 * temporary file, and nothing else: other dotfiles in DIR are the user's. */
static int is_temp_name(const char *n) {
    static const char index_tmp[] = "." RUN_DIR_INDEX_NAME ".h5.tmp.";   /* h5_index.c: ".index.h5.tmp.<pid>" */
    if (!strncmp(n, index_tmp, sizeof index_tmp - 1))
        return n[sizeof index_tmp - 1] && strspn(n + sizeof index_tmp - 1, "0123456789") == strlen(n + sizeof index_tmp - 1);
    const char *t = strstr(n, ".h5.tmp."), *next;
    if (n[0] != '.' || !t || t == n + 1) return 0;
    while ((next = strstr(t + 1, ".h5.tmp."))) t = next;
    const char *tag = t + 8, *dot = strrchr(tag, '.');
    if (!dot || dot == tag || !dot[1]) return 0;
    return strspn(dot + 1, "0123456789") == strlen(dot + 1);
}

int run_dir_is_shard_file(const char *n) {
    size_t len = strlen(n);
    /* temporary files end in .tmp.<tag>, so a shard whose name starts with a dot counts too */
    return len > 3 && !strcmp(n + len - 3, ".h5") && strcmp(n, RUN_DIR_INDEX_NAME ".h5") != 0;
}

/* A name this program opens or creates in the output directory. */
static int is_own_name(const char *n) {
    size_t len = strlen(n);
    return !strcmp(n, ".lock") || !strcmp(n, "run.json") || !strncmp(n, "run.json.tmp.", 13) ||
           (len > 3 && !strcmp(n + len - 3, ".h5")) || is_temp_name(n);
}

int run_dir_check_links(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return ws_errorf(WS_ERR_IO, "%s: cannot list: %s", dir, strerror(errno));
    char list[1024] = "", path[4096], target[512];
    size_t used = 0;
    int links = 0;
    struct dirent *e;
    struct stat st;
    while ((e = readdir(d))) {
        if (!is_own_name(e->d_name)) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (e->d_type != DT_LNK && (e->d_type != DT_UNKNOWN || lstat(path, &st) != 0 || !S_ISLNK(st.st_mode)))
            continue;
        ssize_t n = readlink(path, target, sizeof target - 1);
        target[n > 0 ? n : 0] = '\0';
        if (used < sizeof list)
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%s -> %s", links ? ", " : "", path, target);
        links++;
    }
    closedir(d);
    if (!links) return WS_OK;
    return ws_errorf(WS_ERR_IO, "%d symbolic link(s) where this program writes its files: %s; webssl-dist never writes "
                     "through a link: remove %s, or use another --output", links, list, links > 1 ? "them" : "it");
}

int run_dir_clean_temps(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return ws_errorf(WS_ERR_IO, "%s: cannot list: %s", dir, strerror(errno));
    int removed = 0;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d))) {
        if (!is_temp_name(e->d_name)) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (unlink(path) == 0) removed++;
    }
    closedir(d);
    return removed;
}

int run_dir_shard_path(const char *dir, const char *name, char *buf, size_t len) {
    if (!strcmp(name, RUN_DIR_INDEX_NAME))
        return ws_errorf(WS_ERR_ARG, "shard name '%s' is reserved: %s/%s.h5 is the file `webssl-dist index` "
                         "writes; rename the input (e.g. %s-0.tar)", name, dir, name, name);
    if ((size_t)snprintf(buf, len, "%s/%s.h5", dir, name) >= len)
        return ws_errorf(WS_ERR_ARG, "output path for shard %s is too long", name);
    return WS_OK;
}

int run_dir_tmp_path(const char *dir, const char *name, const char *tag, char *buf, size_t len) {
    if ((size_t)snprintf(buf, len, "%s/.%s.h5.tmp.%s", dir, name, tag) >= len)
        return ws_errorf(WS_ERR_ARG, "temporary path for shard %s is too long", name);
    return WS_OK;
}

#define SHARD_LIST_NAME "shards.txt"

int run_dir_write_shard_list(const char *dir, const char *const *names, size_t n) {
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/" SHARD_LIST_NAME, dir);
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    int ok = f != NULL;
    for (size_t i = 0; ok && i < n; i++) ok = fputs(names[i], f) >= 0 && fputc('\n', f) != EOF;
    if (f) ok = (fflush(f) == 0 && fsync(fileno(f)) == 0) && ok, ok = fclose(f) == 0 && ok;
    if (ok && rename(tmp, path) == 0) return WS_OK;
    int err = errno;
    unlink(tmp);
    return ws_errorf(ws_err_from_errno(err), "%s: cannot write: %s", path, strerror(err));
}

int run_dir_read_shard_list(const char *dir, char ***names, size_t *n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/" SHARD_LIST_NAME, dir);
    *names = NULL;
    *n = 0;
    FILE *f = fopen(path, "r");
    if (!f) return errno == ENOENT ? WS_OK : ws_errorf(WS_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0, have = 0;
    ssize_t len;
    int rc = WS_OK;
    while (rc == WS_OK && (len = getline(&line, &cap, f)) >= 0) {
        if (len > 0 && line[len - 1] == '\n') line[--len] = '\0';
        if (len == 0) continue;
        if (*n == have) {
            have = have ? 2 * have : 256;
            char **p = realloc(*names, have * sizeof *p);
            if (!p) { rc = ws_errorf(WS_ERR_NOMEM, "%s: out of memory", path); break; }
            *names = p;
        }
        if (!((*names)[*n] = strdup(line))) rc = ws_errorf(WS_ERR_NOMEM, "%s: out of memory", path);
        else (*n)++;
    }
    if (rc == WS_OK && ferror(f)) rc = ws_errorf(WS_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    free(line);
    fclose(f);
    return rc;
}

int run_dir_is_run_file(const char *name) {
    return !strcmp(name, ".lock") || !strcmp(name, "run.json") || !strcmp(name, SHARD_LIST_NAME) ||
           !strcmp(name, RUN_DIR_INDEX_NAME ".h5");
}
