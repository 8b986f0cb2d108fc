/* Writes shard files with the HDF5 writer for check_h5_writer.py to read back with h5py:
 * DIR/f16.h5 and DIR/f32.h5 (every feature, 5 rows appended as 3 + 2, row 1 failed), checks
 * h5_shard_check on them (proto_index[i] = 7i - 1, proto_score[i] = x[i][900]; keys with a backslash
 * and with bytes that are not UTF-8, stored escaped; a manifest read back; another dtype or an extra
 * dataset refused), on a file left unfinished and on a file that is not HDF5, that an
 * aborted writer leaves nothing behind, and that a symbolic link planted at the temporary name
 * is refused, its target untouched. Values: x[i][j] = sin(0.1 * (i * 1000 + j)). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "io/h5_writer.h"

enum { N = 5, D = 6, P = 4, K = 3 };
#define MANIFEST "webssl-dist manifest 1\nsource\tshard-000\n"

static float val(int i, int j) { return (float)sin(0.1 * (i * 1000 + j)); }

static ws_arch arch;

/* Start writing DIR/name (temporary file DIR/.name.tmp.test) with every feature. */
static int open_file(const char *dir, const char *name, ws_dtype dt, ws_h5_writer **w) {
    memset(&arch, 0, sizeof arch);
    snprintf(arch.name, sizeof arch.name, "tiny-test");
    arch.embed_dim = D;
    arch.preprocess.crop = 28;
    ws_h5_layout L = {WS_FEAT_CLS | WS_FEAT_PATCH_MEAN | WS_FEAT_PATCH | WS_FEAT_HEAD | WS_FEAT_PROTO, D, P, K, dt};
    ws_h5_meta m = {"model-dir", &arch, 28, &arch.preprocess, "fp32", "shard-000", 1234, MANIFEST, "d1g35t"};
    char final[512], tmp[512];
    snprintf(final, sizeof final, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp.test", dir, name);
    return h5_writer_open(final, tmp, &L, &m, w);
}

static int write_file(const char *dir, const char *name, ws_dtype dt, int finish) {
    float cls[N * D], pm[N * D], patch[N * P * D], head[N * K], score[N];
    int32_t index[N];
    for (int i = 0; i < N; i++) {
        index[i] = 7 * i - 1;
        score[i] = val(i, 900);
        for (int j = 0; j < D; j++) cls[i * D + j] = val(i, j), pm[i * D + j] = val(i, 100 + j);
        for (int j = 0; j < P * D; j++) patch[i * P * D + j] = val(i, 200 + j);
        for (int j = 0; j < K; j++) head[i * K + j] = val(i, 500 + j);
    }
    const char *keys[N] = {"a/0", "a/1", "b/\xc3\xa9t\xc3\xa9", "c\\x", "d\xff\n"};  /* the last two escaped */
    int8_t status[N] = {0, 3, 0, 0, 0};
    ws_h5_writer *w;
    int rc = open_file(dir, name, dt, &w);
    ws_h5_rows r1 = {keys, status, cls, pm, patch, head, index, score};
    ws_h5_rows r2 = {keys + 3, status + 3, cls + 3 * D, pm + 3 * D, patch + 3 * P * D, head + 3 * K, index + 3,
                     score + 3};
    if (rc == WS_OK) rc = h5_writer_append(w, 3, &r1);
    if (rc == WS_OK) rc = h5_writer_append(w, 2, &r2);
    if (rc != WS_OK) {
        fprintf(stderr, "FAIL writing %s/%s: %s\n", dir, name, ws_error_message());
        return 1;
    }
    if (finish == 1) rc = h5_writer_finish(w);
    else if (finish == 0) h5_writer_abort(w);
    /* finish == 2: left open, as a crash would leave it; the handles leak until exit */
    if (rc != WS_OK) fprintf(stderr, "FAIL finishing %s/%s: %s\n", dir, name, ws_error_message());
    return rc != WS_OK;
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    const char *dir = argv[1];
    int fails = write_file(dir, "f16.h5", WS_DTYPE_F16, 1) + write_file(dir, "f32.h5", WS_DTYPE_F32, 1) +
                write_file(dir, "aborted.h5", WS_DTYPE_F32, 0);
    char path[512];
    snprintf(path, sizeof path, "%s/aborted.h5", dir);
    if (access(path, F_OK) == 0) fprintf(stderr, "FAIL aborted file exists\n"), fails++;
    snprintf(path, sizeof path, "%s/.aborted.h5.tmp.test", dir);
    if (access(path, F_OK) == 0) fprintf(stderr, "FAIL aborted temp file left\n"), fails++;

    ws_h5_layout L = {WS_FEAT_CLS | WS_FEAT_PATCH_MEAN | WS_FEAT_PATCH | WS_FEAT_HEAD | WS_FEAT_PROTO, D, P, K,
                      WS_DTYPE_F16};
    ws_h5_shard_info info;
    snprintf(path, sizeof path, "%s/f16.h5", dir);
    if (h5_shard_check(path, &L, &info) != WS_OK || info.count != N || !info.ours)
        fprintf(stderr, "FAIL check complete: %s\n", ws_error_message()), fails++;
    if (strcmp(info.manifest_digest, "d1g35t") || strcmp(info.source, "shard-000"))
        fprintf(stderr, "FAIL info: digest '%s' source '%s'\n", info.manifest_digest, info.source), fails++;
    char *manifest = NULL;
    if (h5_shard_read_manifest(path, &manifest) != WS_OK || strcmp(manifest, MANIFEST))
        fprintf(stderr, "FAIL manifest read back: %s\n", manifest ? manifest : ws_error_message()), fails++;
    free(manifest);
    ws_h5_layout L2 = L;
    L2.D = D + 1;
    if (h5_shard_check(path, &L2, NULL) != WS_ERR_FORMAT)
        fprintf(stderr, "FAIL check with other D passed\n"), fails++;
    L2 = L;
    L2.out_dtype = WS_DTYPE_F32;
    if (h5_shard_check(path, &L2, NULL) != WS_ERR_FORMAT)
        fprintf(stderr, "FAIL check with the other out dtype passed\n"), fails++;
    else printf("other dtype rejected: %s\n", ws_error_message());
    L2 = L;
    L2.features &= ~(unsigned)WS_FEAT_PATCH;
    if (h5_shard_check(path, &L2, NULL) != WS_ERR_FORMAT)
        fprintf(stderr, "FAIL check with an extra dataset passed\n"), fails++;
    else printf("extra dataset rejected: %s\n", ws_error_message());
    snprintf(path, sizeof path, "%s/garbage.h5", dir);
    FILE *f = fopen(path, "w");
    fputs("not hdf5", f);
    fclose(f);
    if (h5_shard_check(path, &L, NULL) != WS_ERR_FORMAT) fprintf(stderr, "FAIL garbage passed\n"), fails++;
    else printf("garbage rejected: %s\n", ws_error_message());
    snprintf(path, sizeof path, "%s/missing.h5", dir);
    if (h5_shard_check(path, &L, NULL) != WS_ERR_IO) fprintf(stderr, "FAIL missing passed\n"), fails++;

    char victim[600], target[64] = "";
    snprintf(victim, sizeof victim, "%s/victim.txt", dir);
    f = fopen(victim, "w");
    fputs("precious", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/.linked.h5.tmp.test", dir);
    ws_h5_writer *w = NULL;
    if (symlink("victim.txt", path) != 0 || open_file(dir, "linked.h5", WS_DTYPE_F16, &w) != WS_ERR_IO ||
        !strstr(ws_error_message(), "symbolic link"))
        fprintf(stderr, "FAIL a link at the temporary name: %s\n", ws_error_message()), fails++;
    else printf("link at the temporary name refused: %s\n", ws_error_message());
    h5_writer_abort(w);
    f = fopen(victim, "r");
    if (!f || !fgets(target, sizeof target, f) || strcmp(target, "precious") != 0)
        fprintf(stderr, "FAIL the link's target changed: '%s'\n", target), fails++;
    if (f) fclose(f);

    unsigned feats = 0;
    if (h5_features_parse("patch,cls", &feats) != WS_OK || feats != (WS_FEAT_CLS | WS_FEAT_PATCH))
        fprintf(stderr, "FAIL features parse\n"), fails++;
    if (h5_features_parse("proto,head", &feats) != WS_OK || feats != (WS_FEAT_HEAD | WS_FEAT_PROTO))
        fprintf(stderr, "FAIL features parse proto\n"), fails++;
    if (h5_features_parse("cls,bogus", &feats) != WS_ERR_ARG || !strstr(ws_error_message(), "bogus"))
        fprintf(stderr, "FAIL bad feature accepted\n"), fails++;
    printf("%s\n", fails ? "FAILED" : "writer checks passed");
    return fails != 0;
}
