/* `webssl-dist preprocess`: runs the image pipeline alone and writes the exact model inputs to
 * one HDF5 file, so anyone can compare them with their own preprocessing:
 *   key [N] string, shard [N] string, status [N] int8, image [N, R, R, 3] uint8 (after resize
 *   and crop), pixels [N, 3, R, R] float32 (normalised); root attributes mode, resize,
 *   resolution, mean, std, images, failures, damaged_shards. */
#include <hdf5.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "driver/embed_signal.h"
#include "common/error.h"
#include "common/log.h"
#include "data/image_status.h"
#include "data/input_spec.h"
#include "data/pipeline.h"

static const char *usage =
    "usage: webssl-dist preprocess --input SPEC --output FILE.h5 [--arch NAME|FILE.yaml]\n"
    "         [--preprocess crop|square] [--resize S] [--resolution R] [--shard-size N]\n"
    "         [--threads T] [--batch B] [--max-pixels N] [--exif-transpose] [--fast-decode]\n";

typedef struct {
    hid_t file, key, shard, status, image, pixels, strtype;
    hsize_t n;
    int R;
} h5out;

static hid_t make_dataset(hid_t file, const char *name, hid_t type, int rank, const hsize_t *dims) {
    hsize_t cur[4], max[4], chunk[4];
    for (int i = 0; i < rank; i++) { cur[i] = i ? dims[i] : 0; max[i] = i ? dims[i] : H5S_UNLIMITED; chunk[i] = i ? dims[i] : (rank == 1 ? 1024 : 1); }
    hid_t space = H5Screate_simple(rank, cur, max), plist = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(plist, rank, chunk);
    hid_t d = H5Dcreate2(file, name, type, space, H5P_DEFAULT, plist, H5P_DEFAULT);
    H5Pclose(plist);
    H5Sclose(space);
    return d;
}

/* Append `n` rows of `data` (row shape = the dataset's dims after the first). */
static int append_rows(hid_t d, hid_t memtype, int rank, hsize_t at, hsize_t n, const void *data) {
    hsize_t dims[4], start[4] = {at, 0, 0, 0}, count[4];
    hid_t space = H5Dget_space(d);
    H5Sget_simple_extent_dims(space, dims, NULL);
    H5Sclose(space);
    dims[0] = at + n;
    if (H5Dset_extent(d, dims) < 0) return -1;
    for (int i = 0; i < rank; i++) count[i] = i ? dims[i] : n;
    hid_t fs = H5Dget_space(d), ms = H5Screate_simple(rank, count, NULL);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
    herr_t rc = H5Dwrite(d, memtype, ms, fs, H5P_DEFAULT, data);
    H5Sclose(ms);
    H5Sclose(fs);
    return rc < 0 ? -1 : 0;
}

static int h5out_open(h5out *o, const char *path, int R) {
    memset(o, 0, sizeof *o);
    o->R = R;
    o->file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (o->file < 0) return ws_errorf(WS_ERR_IO, "cannot create %s", path);
    o->strtype = H5Tcopy(H5T_C_S1);
    H5Tset_size(o->strtype, H5T_VARIABLE);
    H5Tset_cset(o->strtype, H5T_CSET_UTF8);
    hsize_t d1[1] = {0}, dimg[4] = {0, (hsize_t)R, (hsize_t)R, 3}, dpx[4] = {0, 3, (hsize_t)R, (hsize_t)R};
    o->key = make_dataset(o->file, "key", o->strtype, 1, d1);
    o->shard = make_dataset(o->file, "shard", o->strtype, 1, d1);
    o->status = make_dataset(o->file, "status", H5T_STD_I8LE, 1, d1);
    o->image = make_dataset(o->file, "image", H5T_STD_U8LE, 4, dimg);
    o->pixels = make_dataset(o->file, "pixels", H5T_IEEE_F32LE, 4, dpx);
    if (o->key < 0 || o->shard < 0 || o->status < 0 || o->image < 0 || o->pixels < 0)
        return ws_errorf(WS_ERR_IO, "cannot create the datasets of %s", path);
    return WS_OK;
}

static int h5out_append(h5out *o, const ws_batch *b, const char *shard, const char *path) {
    const char **names = malloc((size_t)b->n * sizeof *names);
    if (!names) return ws_errorf(WS_ERR_NOMEM, "out of memory");
    for (int i = 0; i < b->n; i++) names[i] = shard;
    hsize_t n = (hsize_t)b->n;
    int rc = append_rows(o->key, o->strtype, 1, o->n, n, b->keys) |
             append_rows(o->shard, o->strtype, 1, o->n, n, names) |
             append_rows(o->status, H5T_NATIVE_INT8, 1, o->n, n, b->status) |
             append_rows(o->image, H5T_NATIVE_UINT8, 4, o->n, n, b->u8) |
             append_rows(o->pixels, H5T_NATIVE_FLOAT, 4, o->n, n, b->pixels);
    free(names);
    o->n += n;
    return rc ? ws_errorf(WS_ERR_IO, "cannot write to %s", path) : WS_OK;
}

static void attr_write(hid_t obj, const char *name, hid_t type, hsize_t n, const void *v) {
    hid_t sp = n ? H5Screate_simple(1, &n, NULL) : H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, type, v);
    H5Aclose(a);
    H5Sclose(sp);
}

static void attr_string(hid_t obj, const char *name, const char *s) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(s) + 1);
    attr_write(obj, name, t, 0, s);
    H5Tclose(t);
}

static int h5out_close(h5out *o, const ws_preprocess *pre, size_t failures, const char *damaged) {
    long long images = (long long)o->n, fails = (long long)failures;
    int R = o->R;
    attr_string(o->file, "mode", pre->mode == WS_PREPROCESS_CROP ? "crop" : "square");
    attr_write(o->file, "resize", H5T_NATIVE_INT, 0, &pre->resize);
    attr_write(o->file, "resolution", H5T_NATIVE_INT, 0, &R);
    attr_write(o->file, "mean", H5T_NATIVE_FLOAT, 3, pre->mean);
    attr_write(o->file, "std", H5T_NATIVE_FLOAT, 3, pre->std);
    attr_write(o->file, "images", H5T_NATIVE_LLONG, 0, &images);
    attr_write(o->file, "failures", H5T_NATIVE_LLONG, 0, &fails);
    attr_string(o->file, "damaged_shards", damaged);
    hid_t ids[] = {o->key, o->shard, o->status, o->image, o->pixels};
    for (size_t i = 0; i < 5; i++) if (ids[i] >= 0) H5Dclose(ids[i]);
    H5Tclose(o->strtype);
    return H5Fclose(o->file) < 0 ? ws_errorf(WS_ERR_IO, "cannot close the output file") : WS_OK;
}

static int parse_int(const char *flag, const char *v, long lo, long hi, long *out) {
    char *end;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || *end || x < lo || x > hi)
        return ws_errorf(WS_ERR_ARG, "%s wants an integer in [%ld, %ld], got '%s'", flag, lo, hi, v ? v : "");
    *out = x;
    return WS_OK;
}

int cmd_preprocess(int argc, char **argv) {
    const char *input = NULL, *output = NULL, *arch_name = NULL;
    long shard_size = WS_DEFAULT_SHARD_SIZE, v;
    ws_pipeline_params pp;
    pipeline_params_default(&pp);
    int rc = WS_OK, mode = -1;
    long resize = 0, res = 0;
    for (int i = 1; i < argc && rc >= 0; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(usage, stdout); return WS_EXIT_OK; }
        else if (!strcmp(a, "--exif-transpose")) pp.decode.exif_transpose = 1;
        else if (!strcmp(a, "--fast-decode")) pp.fast_decode = 1;
        else if (!val) rc = ws_errorf(WS_ERR_ARG, "unknown option or missing value: %s", a);
        else if (++i, !strcmp(a, "--input")) input = val;
        else if (!strcmp(a, "--output")) output = val;
        else if (!strcmp(a, "--arch")) arch_name = val;
        else if (!strcmp(a, "--preprocess")) {
            if (!strcmp(val, "crop")) mode = WS_PREPROCESS_CROP;
            else if (!strcmp(val, "square")) mode = WS_PREPROCESS_SQUARE;
            else rc = ws_errorf(WS_ERR_ARG, "--preprocess wants crop or square, got '%s'", val);
        }
        else if (!strcmp(a, "--resize")) rc = parse_int(a, val, 1, 65536, &resize);
        else if (!strcmp(a, "--resolution")) rc = parse_int(a, val, 1, 8192, &res);
        else if (!strcmp(a, "--shard-size")) rc = parse_int(a, val, 1, LONG_MAX, &shard_size);
        else if (!strcmp(a, "--threads")) { rc = parse_int(a, val, 1, 1024, &v); pp.threads = (int)v; }
        else if (!strcmp(a, "--batch")) { rc = parse_int(a, val, 1, 65536, &v); pp.batch = (int)v; }
        else if (!strcmp(a, "--max-pixels")) { rc = parse_int(a, val, 0, LONG_MAX, &v); pp.decode.max_pixels = (uint64_t)v; }
        else rc = ws_errorf(WS_ERR_ARG, "unknown option: %s", a);
    }
    if (rc >= 0 && (!input || !output)) rc = ws_errorf(WS_ERR_ARG, "--input and --output are required");
    if (rc >= 0 && arch_name) {
        ws_arch arch;
        if ((rc = arch_resolve(arch_name, &arch)) >= 0) pp.pre = arch.preprocess;
    }
    if (rc < 0) {
        fprintf(stderr, "webssl-dist preprocess: %s\n%s", ws_error_message(), usage);
        return WS_EXIT_USAGE;
    }
    if (mode >= 0) pp.pre.mode = (ws_preprocess_mode)mode;
    if (resize) pp.pre.resize = (int)resize;
    if (res) pp.pre.crop = (int)res;
    pp.keep_u8 = 1;
    ws_shard_list shards;
    if ((rc = input_spec_expand(input, (size_t)shard_size, &shards)) < 0) {
        fprintf(stderr, "webssl-dist preprocess: %s\n", ws_error_message());
        return WS_EXIT_USAGE;
    }
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.tmp", output);
    h5out out;
    if ((rc = h5out_open(&out, tmp, pp.pre.crop)) < 0) {
        fprintf(stderr, "webssl-dist preprocess: %s\n", ws_error_message());
        shard_list_free(&shards);
        return WS_EXIT_USAGE;
    }
    embed_signal_install();
    size_t failures = 0;
    char damaged[4096] = "";
    int exit_code = WS_EXIT_OK;
    for (size_t s = 0; s < shards.count && exit_code == WS_EXIT_OK; s++) {
        ws_shard *sh = &shards.shards[s];
        ws_pipeline *p;
        if ((rc = pipeline_open(sh, &pp, &p)) < 0) {
            LOG_ERROR("%s: %s", sh->name, ws_error_message());
            size_t len = strlen(damaged);
            snprintf(damaged + len, sizeof damaged - len, "%s%s", len ? "," : "", sh->name);
            continue;
        }
        const ws_batch *b;
        while ((b = pipeline_next_batch(p)) && b->n > 0) {
            if (h5out_append(&out, b, sh->name, tmp) < 0) { exit_code = WS_EXIT_USAGE; break; }
            if (embed_signal_pending()) { exit_code = WS_EXIT_INTERRUPTED; break; }
        }
        const char *why;
        if (exit_code == WS_EXIT_OK && pipeline_damaged(p, &why)) {
            size_t len = strlen(damaged);
            snprintf(damaged + len, sizeof damaged - len, "%s%s", len ? "," : "", sh->name);
        }
        failures += pipeline_failures(p);
        LOG_INFO("%s: %zu images, %zu failed", sh->name, pipeline_images(p), pipeline_failures(p));
        pipeline_close(p);
    }
    size_t n = (size_t)out.n;
    if (h5out_close(&out, &pp.pre, failures, damaged) < 0 && exit_code == WS_EXIT_OK) exit_code = WS_EXIT_USAGE;
    shard_list_free(&shards);
    if (exit_code != WS_EXIT_OK) {
        if (exit_code == WS_EXIT_USAGE) fprintf(stderr, "webssl-dist preprocess: %s\n", ws_error_message());
        remove(tmp);
        return exit_code;
    }
    if (rename(tmp, output) != 0) {
        fprintf(stderr, "webssl-dist preprocess: cannot rename %s to %s\n", tmp, output);
        return WS_EXIT_USAGE;
    }
    printf("%s: %zu images, %zu failed%s%s\n", output, n, failures, *damaged ? ", damaged shards: " : "", damaged);
    return *damaged ? WS_EXIT_FAILED_SHARDS : WS_EXIT_OK;
}
