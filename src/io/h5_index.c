/* The index over the shard files of an output directory, in parts (see h5_index.h). */
#include "io/h5_index.h"
#include "common/error.h"
#include "io/h5_check.h"
#include "io/h5_index_vds.h"
#include "io/h5_writer.h"
#include "io/h5_file.h"
#include "io/run_dir.h"

#include <dirent.h>
#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const ds_names[] = {"key", "status", "cls", "patch_mean", "patch", "head", "proto_index",
                                      "proto_score"};
enum { NDS = 8 };

typedef h5_index_src shard_file;   /* name: the file name inside DIR */
typedef h5_index_ds ds_info;

static int cmp_names(const void *a, const void *b) {
    return strcmp(((const shard_file *)a)->name, ((const shard_file *)b)->name);
}

static int cmp_left_out(const void *a, const void *b) {
    return strcmp(((const ws_index_left_out *)a)->name, ((const ws_index_left_out *)b)->name);
}

/* Record file `name` as left out for `why`. WS_OK or WS_ERR_NOMEM. */
static int left_out(ws_index_info *info, const char *name, const char *why) {
    ws_index_left_out *p = realloc(info->left_out, (size_t)(info->skipped + 1) * sizeof *p);
    if (!p) return ws_errorf(WS_ERR_NOMEM, "out of memory listing left-out files");
    info->left_out = p;
    p[info->skipped].name = strdup(name);
    p[info->skipped].why = strdup(why);
    if (!p[info->skipped].name || !p[info->skipped].why) {
        free(p[info->skipped].name);
        free(p[info->skipped].why);
        return ws_errorf(WS_ERR_NOMEM, "out of memory listing left-out files");
    }
    info->skipped++;
    return WS_OK;
}

/* Why a directory entry that is not a shard name is left out, or NULL for the run's own files and
 * directories (not reported). */
static const char *not_shard_reason(const char *dir, const struct dirent *e) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || run_dir_is_run_file(e->d_name)) return NULL;
    if (e->d_type == DT_DIR) return NULL;
    if (e->d_type == DT_UNKNOWN) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return NULL;
    }
    if (strstr(e->d_name, ".tmp.")) return "a temporary file (a write in progress, or left by a killed run)";
    if (strstr(e->d_name, ".h5.moved.")) return "moved aside by an earlier run (not written by this program, or damaged)";
    return "not a shard file (*.h5)";
}

/* Read a complete shard's row count and check its datasets against `info` (filled from the
 * first shard). Returns WS_OK, WS_ERR_FORMAT (incomplete or damaged: skip) or WS_ERR_ARG
 * (disagrees). Every byte and the rows of every dataset are checked first (h5_shard_verify). */
static int inspect_shard(const char *path, ds_info info[NDS], int first, int64_t *rows) {
    if (h5_shard_verify(path, rows) != WS_OK) return WS_ERR_FORMAT;   /* the message names the defect */
    hid_t f = -1;
    if (h5_file_open(path, &f) != WS_OK) return WS_ERR_FORMAT;
    int rc = WS_OK;
    for (int i = 0; i < NDS && rc == WS_OK; i++) {
        int exists = H5Lexists(f, ds_names[i], H5P_DEFAULT) > 0;
        if (first) info[i].present = exists;
        if (exists != info[i].present) {
            rc = ws_errorf(WS_ERR_ARG, "%s: dataset %s %s, unlike the first shard", path, ds_names[i],
                           exists ? "present" : "missing");
            break;
        }
        if (!exists) continue;
        hid_t ds = H5Dopen2(f, ds_names[i], H5P_DEFAULT), sp = H5Dget_space(ds), t = H5Dget_type(ds);
        hsize_t dims[3] = {0, 0, 0};
        int rank = H5Sget_simple_extent_ndims(sp);
        if (rank >= 1 && rank <= 3) H5Sget_simple_extent_dims(sp, dims, NULL);
        if (first) {
            info[i].type = H5Tcopy(t);
            info[i].rank = rank;
            memcpy(info[i].dims, dims, sizeof dims);
        }
        if (rank != info[i].rank || dims[0] != (hsize_t)*rows || dims[1] != info[i].dims[1] ||
            dims[2] != info[i].dims[2] || H5Tequal(t, info[i].type) <= 0)
            rc = ws_errorf(WS_ERR_ARG, "%s: dataset %s has another shape or type than the first shard", path,
                           ds_names[i]);
        H5Tclose(t);
        H5Sclose(sp);
        H5Dclose(ds);
    }
    H5Fclose(f);
    return rc;
}

static int list_shards(const char *dir, shard_file **out, size_t *n, ws_index_info *info) {
    DIR *d = opendir(dir);
    if (!d) return ws_errorf(WS_ERR_IO, "%s: cannot list the directory", dir);
    shard_file *v = NULL;
    size_t cnt = 0, cap = 0;
    struct dirent *e;
    int rc = WS_OK;
    while (rc == WS_OK && (e = readdir(d))) {
        if (!run_dir_is_shard_file(e->d_name)) {
            const char *why = not_shard_reason(dir, e);
            if (why) rc = left_out(info, e->d_name, why);
            continue;
        }
        if (cnt == cap) {
            cap = cap ? 2 * cap : 64;
            shard_file *p = realloc(v, cap * sizeof *p);
            if (!p) {
                rc = ws_errorf(WS_ERR_NOMEM, "listing %s", dir);
                break;
            }
            v = p;
        }
        v[cnt].rows = 0;
        if (!(v[cnt++].name = strdup(e->d_name))) {
            rc = ws_errorf(WS_ERR_NOMEM, "listing %s", dir);
            cnt--;
            break;
        }
    }
    closedir(d);
    if (cnt) qsort(v, cnt, sizeof *v, cmp_names);
    *out = v;
    *n = cnt;
    return rc;
}

/* Remove DIR/index.parts/<g> (its part files, then the folder): g = gen only, or (others) every
 * generation but gen. Files there that the index did not write stay, and so does their folder. */
static void remove_generations(const char *dir, const char *gen, int others) {
    char pdir[4096], gdir[4096 + 256], path[8192];
    snprintf(pdir, sizeof pdir, "%s/" H5_INDEX_PARTS_DIR, dir);
    DIR *d = opendir(pdir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || (strcmp(e->d_name, gen) != 0) != others) continue;
        snprintf(gdir, sizeof gdir, "%s/%s", pdir, e->d_name);
        DIR *g = opendir(gdir);
        if (!g) continue;
        struct dirent *pe;
        while ((pe = readdir(g)))
            if (!strncmp(pe->d_name, "part-", 5) && strstr(pe->d_name, ".h5")) {
                snprintf(path, sizeof path, "%s/%s", gdir, pe->d_name);
                unlink(path);
            }
        closedir(g);
        rmdir(gdir);
    }
    closedir(d);
}

/* Part k: DIR/index.parts/<gen>/part-<k>.h5 over s[0..n) (their rows: total), with its own
 * shard_name / shard_start. HDF5's free lists are emptied after each part, so the memory of
 * the build is that of one part (plus the table of every name) whatever the shard count. */
static int write_part(const char *dir, const char *gen, size_t k, const ds_info *di, const shard_file *s,
                      size_t n, int64_t total, shard_file *part) {
    char path[4096];
    snprintf(path, sizeof path, "%s/" H5_INDEX_PARTS_DIR "/%s/part-%06zu.h5", dir, gen, k);
    hid_t f = -1;
    int rc = h5_index_vds_file(path, di, NDS, "../../", s, n, total, &f);
    if (rc == WS_OK) rc = h5_index_table(f, "shard_name", "shard_start", s, n);
    if (rc == WS_OK) H5_TRY(rc, H5Fclose(f));
    else if (f >= 0) H5Fclose(f);
    H5garbage_collect();
    part->rows = total;
    part->name = malloc(strlen(gen) + 64);
    if (!part->name) return rc == WS_OK ? ws_errorf(WS_ERR_NOMEM, "out of memory") : rc;
    sprintf(part->name, H5_INDEX_PARTS_DIR "/%s/part-%06zu.h5", gen, k);
    return rc == WS_OK ? WS_OK : ws_error_context(rc, "%s", path);
}

/* Every part of the kept shards of s[0..n), H5_INDEX_PART_SHARDS kept shards each, into
 * DIR/index.parts/<gen>/. *parts / *np: the parts written. */
static int write_parts(const char *dir, const char *gen, const ds_info *di, const shard_file *s, size_t n,
                       size_t kept, shard_file **parts, size_t *np) {
    char path[4096];
    snprintf(path, sizeof path, "%s/" H5_INDEX_PARTS_DIR "/%s", dir, gen);
    if (mkdir(path, 0777) != 0)
        return ws_errorf(WS_ERR_IO, "%s: cannot create the directory: %s", path, strerror(errno));
    size_t cap = (kept + H5_INDEX_PART_SHARDS - 1) / H5_INDEX_PART_SHARDS;
    *parts = calloc(cap ? cap : 1, sizeof **parts);
    *np = 0;
    if (!*parts) return ws_errorf(WS_ERR_NOMEM, "out of memory for %zu index parts", cap);
    int rc = WS_OK;
    for (size_t a = 0; a < n && rc == WS_OK;) {
        size_t b = a, in = 0;
        int64_t rows = 0;
        for (; b < n && in < H5_INDEX_PART_SHARDS; b++)
            if (s[b].rows >= 0) in++, rows += s[b].rows;
        while (b < n && s[b].rows < 0) b++;   /* trailing left-out files join this part */
        if (in) rc = write_part(dir, gen, *np, di, s + a, b - a, rows, &(*parts)[*np]), (*np)++;
        a = b;
    }
    return rc;
}

/* DIR/index.h5 over the parts: written under a temporary name, then renamed. */
static int write_top(const char *dir, const ds_info *di, const shard_file *s, size_t n, const shard_file *parts,
                     size_t np, int64_t total) {
    char tmp[4096], final[4096];
    snprintf(final, sizeof final, "%s/" RUN_DIR_INDEX_NAME ".h5", dir);
    snprintf(tmp, sizeof tmp, "%s/." RUN_DIR_INDEX_NAME ".h5.tmp.%d", dir, (int)getpid());
    hid_t f = -1;
    int rc = h5_index_vds_file(tmp, di, NDS, "", parts, np, total, &f);
    if (rc == WS_OK) rc = h5_index_table(f, "shard_name", "shard_start", s, n);
    if (rc == WS_OK) rc = h5_index_table(f, "part_name", "part_start", parts, np);
    if (rc == WS_OK) {
        int part_shards = H5_INDEX_PART_SHARDS;
        hid_t sp = -1, a = -1;
        H5_TRY(rc, sp = H5Screate(H5S_SCALAR));
        H5_TRY(rc, a = H5Acreate2(f, "part_shards", H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT));
        H5_TRY(rc, H5Awrite(a, H5T_NATIVE_INT, &part_shards));
        if (a >= 0) H5Aclose(a);
        if (sp >= 0) H5Sclose(sp);
    }
    if (rc == WS_OK) H5_TRY(rc, H5Fclose(f));
    else if (f >= 0) H5Fclose(f);
    if (rc == WS_OK && rename(tmp, final) != 0)
        rc = ws_errorf(WS_ERR_IO, "rename %s -> %s: %s", tmp, final, strerror(errno));
    if (rc != WS_OK) unlink(tmp);
    return rc;
}

/* The shards DIR/shards.txt lists without a file of their name among s[0..n) (sorted) into info. */
static int find_missing(const char *dir, const shard_file *s, size_t n, ws_index_info *info) {
    char **listed = NULL, file[4096];
    size_t nl = 0;
    int rc = run_dir_read_shard_list(dir, &listed, &nl);
    for (size_t i = 0; i < nl && rc == WS_OK; i++) {
        snprintf(file, sizeof file, "%s.h5", listed[i]);
        shard_file key = {file, 0};
        if (bsearch(&key, s, n, sizeof *s, cmp_names)) continue;
        char **p = realloc(info->missing, (info->num_missing + 1) * sizeof *p);
        if (!p) { rc = ws_errorf(WS_ERR_NOMEM, "out of memory listing missing shards"); break; }
        info->missing = p;
        p[info->num_missing++] = listed[i];
        listed[i] = NULL;
    }
    for (size_t i = 0; i < nl; i++) free(listed[i]);
    free(listed);
    return rc;
}

void h5_index_info_free(ws_index_info *info) {
    for (int64_t i = 0; i < info->skipped; i++) free(info->left_out[i].name), free(info->left_out[i].why);
    for (size_t i = 0; i < info->num_missing; i++) free(info->missing[i]);
    free(info->left_out);
    free(info->missing);
    memset(info, 0, sizeof *info);
}

int h5_index_write(const char *dir, ws_index_info *info) {
    h5_lib_init();
    memset(info, 0, sizeof *info);
    shard_file *s = NULL, *parts = NULL;
    size_t n = 0, kept = 0, np = 0;
    int rc = list_shards(dir, &s, &n, info);
    ds_info di[NDS];
    memset(di, 0, sizeof di);
    for (int i = 0; i < NDS; i++) di[i].name = ds_names[i], di[i].type = -1;
    char path[4096];
    for (size_t i = 0; i < n && rc == WS_OK; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, s[i].name);
        int r = inspect_shard(path, di, kept == 0, &s[i].rows);
        if (r == WS_ERR_FORMAT) {
            s[i].rows = -1;  /* incomplete or damaged: left out */
            const char *why = ws_error_message();
            size_t plen = strlen(path);
            r = left_out(info, s[i].name, !strncmp(why, path, plen) && !strncmp(why + plen, ": ", 2) ? why + plen + 2 : why);
            if (r != WS_OK) rc = r;
        } else if (r != WS_OK) {
            rc = r;
        } else {
            kept++;
            info->rows += s[i].rows;
        }
    }
    if (rc == WS_OK) rc = find_missing(dir, s, n, info);
    if (rc == WS_OK && info->skipped > 1)
        qsort(info->left_out, (size_t)info->skipped, sizeof *info->left_out, cmp_left_out);
    if (rc == WS_OK && kept == 0) rc = ws_errorf(WS_ERR_ARG, "%s: no complete shard file to index", dir);
    info->shards = (int64_t)kept;
    const int writing = rc == WS_OK;   /* errors from here on are the writing's */
    char gen[64], pdir[4096];   /* this build's parts: a new folder, so the old index stays whole until replaced */
    snprintf(gen, sizeof gen, "%lld-%d", (long long)time(NULL), (int)getpid());
    snprintf(pdir, sizeof pdir, "%s/" H5_INDEX_PARTS_DIR, dir);
    int lock = -1;   /* two builds at once would remove each other's parts */
    if (rc == WS_OK && mkdir(pdir, 0777) != 0 && errno != EEXIST)
        rc = ws_errorf(WS_ERR_IO, "%s: cannot create the directory: %s", pdir, strerror(errno));
    int locked = 0;
    if (rc == WS_OK && (rc = run_dir_lock(pdir, &lock)) == WS_OK) locked = 1;
    if (locked) {
        rc = write_parts(dir, gen, di, s, n, kept, &parts, &np);
        info->parts = (int64_t)np;
        if (rc == WS_OK) rc = write_top(dir, di, s, n, parts, np, info->rows);
        remove_generations(dir, gen, rc == WS_OK);   /* success: the older ones; failure: this one */
    }
    if (rc != WS_OK && writing)
        rc = ws_error_context(rc, "%s/" RUN_DIR_INDEX_NAME ".h5: cannot write the index", dir);
    run_dir_unlock(lock);
    for (size_t i = 0; i < n; i++) free(s[i].name);
    for (size_t i = 0; i < np; i++) free(parts[i].name);
    free(s);
    free(parts);
    for (int i = 0; i < NDS; i++)
        if (di[i].type >= 0) H5Tclose(di[i].type);
    return rc;
}
