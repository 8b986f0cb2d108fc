/* Checkpoint reading on hand-made inputs: every malformed safetensors header, HF directory or
 * shape mismatch fails with a message naming the file (and the tensor); valid corner cases
 * (metadata, empty tensors, unaligned data, strided views, name layouts) load correctly. */
#include <check.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/dtype.h"
#include "common/error.h"
#include "loaders/arch_match.h"
#include "loaders/checkpoint.h"
#include "test_main.h"

static char tmpdir[256];

static void setup(void) { test_tmpdir_create(tmpdir, sizeof tmpdir, "ckpt_bad"); }

static void teardown(void) { test_tmpdir_remove(tmpdir); }

static char *path_of(const char *fmt, ...) {
    static char bufs[16][512];
    static int k;
    char *p = bufs[k++ % 16];
    char rel[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rel, sizeof rel, fmt, ap);
    va_end(ap);
    snprintf(p, 512, "%s/%s", tmpdir, rel);
    return p;
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

/* A safetensors file: header length `hlen` (as written; the real length when (uint64_t)-1),
 * header text, then `ndata` bytes of data (value i % 251 at byte i). */
static void write_st_raw(const char *path, uint64_t hlen, const char *header, size_t ndata) {
    size_t n = strlen(header);
    if (hlen == (uint64_t)-1) hlen = n;
    unsigned char *buf = malloc(8 + n + ndata);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(hlen >> (8 * i));
    memcpy(buf + 8, header, n);
    for (size_t i = 0; i < ndata; i++) buf[8 + n + i] = (unsigned char)(i % 251);
    write_bytes(path, buf, 8 + n + ndata);
    free(buf);
}

/* ckpt_open(path) must fail with a message containing `path` and every further needle. */
static void expect_fail(const char *path, ...) {
    ws_ckpt c;
    int rc = ckpt_open(path, &c);
    const char *msg = ws_error_message();
    ck_assert_msg(rc != WS_OK, "%s opened but should fail", path);
    printf("%s\n", msg);
    ck_assert_msg(strstr(msg, path) != NULL, "message does not name the file: %s", msg);
    va_list ap;
    va_start(ap, path);
    for (const char *needle; (needle = va_arg(ap, const char *));)
        ck_assert_msg(strstr(msg, needle) != NULL, "message lacks '%s': %s", needle, msg);
    va_end(ap);
}

#define ST(name, hdr, ndata) (write_st_raw(path_of(name), (uint64_t)-1, hdr, ndata), path_of(name))

START_TEST(bad_safetensors) {
    const char *ok = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}";
    expect_fail(ST("truncated.safetensors", ok, 20), "tensor 'a'", "past the end", NULL);
    write_bytes(path_of("short.safetensors"), "\x10\x00\x00", 3);
    expect_fail(path_of("short.safetensors"), "truncated", NULL);
    write_st_raw(path_of("hlen_big.safetensors"), 1000, ok, 24);
    expect_fail(path_of("hlen_big.safetensors"), "larger than the file", NULL);
    write_st_raw(path_of("hlen_absurd.safetensors"), (uint64_t)1 << 40, ok, 24);
    expect_fail(path_of("hlen_absurd.safetensors"), "absurd", NULL);
    expect_fail(ST("nonjson.safetensors", "{\"a\": {dtype", 0), "not valid JSON", NULL);
    expect_fail(ST("array.safetensors", "[1, 2]", 0), "not a JSON object", NULL);
    expect_fail(ST("trailing.safetensors", "{} xx", 0), "trailing", NULL);
    expect_fail(ST("order.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", 8),
                "tensor 'a'", "begin 8 > end 4", NULL);
    expect_fail(ST("outside.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[1000,1016]}}", 16),
                "tensor 'w'", "past the end", NULL);
    expect_fail(ST("size.safetensors", "{\"w\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,16]}}", 16),
                "tensor 'w'", "needs 8", NULL);
    expect_fail(ST("overlap.safetensors", "{\"x\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                                          "\"y\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[20,24]},"
                                          "\"z\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 24),
                "'x'", "'z'", "overlap", NULL);
    expect_fail(ST("int64.safetensors", "{\"ids\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]}}", 16),
                "tensor 'ids'", "dtype I64", NULL);
    expect_fail(ST("dtype.safetensors", "{\"w\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8),
                "tensor 'w'", "unknown dtype 'F33'", NULL);
    expect_fail(ST("nodtype.safetensors", "{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8), "tensor 'w'", "dtype",
                NULL);
    expect_fail(ST("dup.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                                      "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8),
                "'w'", "twice", NULL);
    expect_fail(ST("neg.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[-2,2],\"data_offsets\":[0,16]}}", 16),
                "tensor 'w'", "shape entry 0", NULL);
    expect_fail(ST("frac.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,16]}}", 16),
                "tensor 'w'", "shape entry 0", NULL);
    expect_fail(ST("huge.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4503599627370496,4503599627370496,"
                                       "4503599627370496],\"data_offsets\":[0,0]}}", 0),
                "tensor 'w'", "larger than the file", NULL);
    expect_fail(ST("dims.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],"
                                       "\"data_offsets\":[0,4]}}", 4), "tensor 'w'", "9 dimensions", NULL);
    expect_fail(ST("offs.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4),
                "tensor 'w'", "data_offsets", NULL);
    expect_fail(ST("extra.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4),
                "tensor 'w'", "unknown field 'x'", NULL);
    expect_fail(ST("entry.safetensors", "{\"w\": 3}", 0), "tensor 'w'", "not an object", NULL);
    expect_fail(path_of("absent.safetensors"), "cannot open", NULL);
}
END_TEST

START_TEST(valid_corners) {
    /* metadata ignored, an empty tensor, padding spaces, f16 data at an odd offset (header of odd length) */
    const char *hdr = "{\"__metadata__\":{\"format\":\"pt\"},\"e\":{\"dtype\":\"BF16\",\"shape\":[0,3],\"data_offsets\":[0,0]},"
                      "\"h\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,8]}}    ";
    ck_assert_int_eq(strlen(hdr) % 2, 1);
    const uint16_t vals[4] = {0x3c00, 0xc000, 0x3555, 0x7bff};   /* 1, -2, 0.333, 65504 */
    size_t n = strlen(hdr);
    unsigned char buf[512];
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(buf + 8, hdr, n);
    memcpy(buf + 8 + n, vals, sizeof vals);
    write_bytes(path_of("corner.safetensors"), buf, 8 + n + sizeof vals);
    ws_ckpt c;
    ck_assert_msg(ckpt_open(path_of("corner.safetensors"), &c) == WS_OK, "%s", ws_error_message());
    ck_assert_uint_eq(c.num_tensors, 2);
    ck_assert_int_eq(c.format, WS_CKPT_SAFETENSORS);
    const ws_ckpt_tensor *e = ckpt_find(&c, "e"), *h = ckpt_find(&c, "h");
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(ckpt_numel(e), 0);
    ck_assert_ptr_nonnull(h);
    float out[4];
    ck_assert_int_eq(ckpt_read_f32(h, 0, 2, 0, 2, out), WS_OK);
    for (int i = 0; i < 4; i++) ck_assert_float_eq(out[i], ws_f16_to_f32(vals[i]));
    ck_assert_int_eq(ckpt_read_f32(h, 1, 1, 1, 1, out), WS_OK);
    ck_assert_float_eq(out[0], 65504.0f);
    ck_assert_int_eq(ckpt_read_f32(h, 1, 2, 0, 1, out), WS_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(ws_error_message(), "'h'"));
    ck_assert_int_eq(ckpt_read_f32(h, 0, 1, -1, 1, out), WS_ERR_SHAPE);
    ck_assert_ptr_null(ckpt_find(&c, "__metadata__"));
    ckpt_close(&c);
}
END_TEST

START_TEST(strided_read) {
    /* A [3, 2, 2] view of a transposed buffer: element (i, j, k) at offset k*6 + j*3 + i. */
    float buf[12], out[12];
    for (int i = 0; i < 12; i++) buf[i] = (float)i;
    ws_ckpt_tensor t = {.name = "view", .dtype = WS_DTYPE_F32, .ndim = 3, .shape = {3, 2, 2},
                        .stride = {1, 3, 6}, .data = buf, .file = "mem"};
    ck_assert_int_eq(ckpt_read_f32(&t, 0, 3, 0, 4, out), WS_OK);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++)
            for (int k = 0; k < 2; k++) ck_assert_float_eq(out[i * 4 + j * 2 + k], buf[k * 6 + j * 3 + i]);
    ck_assert_int_eq(ckpt_read_f32(&t, 1, 2, 1, 2, out), WS_OK);
    ck_assert_float_eq(out[0], buf[6 + 1]);      /* (1, 0, 1) */
    ck_assert_float_eq(out[3], buf[3 + 2]);      /* (2, 1, 0) */
    /* a bf16 vector is one row */
    uint16_t b[3] = {ws_f32_to_bf16(1.5f), ws_f32_to_bf16(-3.0f), ws_f32_to_bf16(0.25f)};
    ws_ckpt_tensor v = {.name = "vec", .dtype = WS_DTYPE_BF16, .ndim = 1, .shape = {3}, .stride = {1}, .data = b};
    ck_assert_int_eq(ckpt_read_f32(&v, 0, 1, 1, 2, out), WS_OK);
    ck_assert_float_eq(out[0], -3.0f);
    ck_assert_float_eq(out[1], 0.25f);
}
END_TEST

/* ---- tensors of a whole model, in either name layout ---- */

typedef struct {
    char names[1024][96];
    int64_t shapes[1024][4];
    int ndims[1024];
    int n;
} tensor_list;

static void add(tensor_list *l, const char *name, int nd, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
    ck_assert_int_lt(l->n, 1024);
    snprintf(l->names[l->n], sizeof l->names[0], "%s", name);
    int64_t d[4] = {d0, d1, d2, d3};
    memcpy(l->shapes[l->n], d, sizeof d);
    l->ndims[l->n++] = nd;
}

/* Checkpoint names: transformers (embeddings.*, encoder.layer.{i}.*) or original DINOv2 / timm. */
typedef enum { LAYOUT_HF, LAYOUT_ORIGINAL } layout;

/* Every backbone tensor of `a`, named in `lay` with `prefix`; `chunks` > 0 stores ORIGINAL blocks
 * as blocks.{chunk}.{i}. Written out by hand, independently of the loaders' name tables. */
static void model_tensors(tensor_list *l, const ws_arch *a, layout lay, const char *prefix, int chunks) {
    const int64_t C = a->embed_dim, H = a->ffn_hidden, P = a->patch_size, G = a->img_size / a->patch_size;
    const int hf = lay == LAYOUT_HF, sw = a->ffn == WS_FFN_SWIGLU;
    char nm[192], blk[64];
    l->n = 0;
#define NM(s) (snprintf(nm, sizeof nm, "%s%s", prefix, s), nm)
#define BNM(s) (snprintf(nm, sizeof nm, "%s%s%s", prefix, blk, s), nm)
    add(l, NM(hf ? "embeddings.cls_token" : "cls_token"), 3, 1, 1, C, 0);
    add(l, NM(hf ? "embeddings.position_embeddings" : "pos_embed"), 3, 1, 1 + G * G, C, 0);
    add(l, NM(hf ? "embeddings.patch_embeddings.projection.weight" : "patch_embed.proj.weight"), 4, C, 3, P, P);
    add(l, NM(hf ? "embeddings.patch_embeddings.projection.bias" : "patch_embed.proj.bias"), 1, C, 0, 0, 0);
    if (a->num_register_tokens)
        add(l, NM(hf ? "embeddings.register_tokens" : "register_tokens"), 3, 1, a->num_register_tokens, C, 0);
    add(l, NM(hf ? "layernorm.weight" : "norm.weight"), 1, C, 0, 0, 0);
    add(l, NM(hf ? "layernorm.bias" : "norm.bias"), 1, C, 0, 0, 0);
    const int hf_vit = hf && !sw;   /* ViTModel names its norms and MLP apart from Dinov2Model */
    for (int i = 0; i < a->depth; i++) {
        if (hf) snprintf(blk, sizeof blk, "encoder.layer.%d.", i);
        else if (chunks) snprintf(blk, sizeof blk, "blocks.%d.%d.", i * chunks / a->depth, i);
        else snprintf(blk, sizeof blk, "blocks.%d.", i);
        for (int k = 0; k < 2; k++) {
            const char *wb = k ? "bias" : "weight";
            char s[48];
            snprintf(s, sizeof s, "%s.%s", hf_vit ? "layernorm_before" : "norm1", wb);
            add(l, BNM(s), 1, C, 0, 0, 0);
            snprintf(s, sizeof s, "%s.%s", hf_vit ? "layernorm_after" : "norm2", wb);
            add(l, BNM(s), 1, C, 0, 0, 0);
            if (k && !a->qkv_bias) continue;
            if (hf) {
                static const char *qkv[] = {"query", "key", "value"};
                for (int j = 0; j < 3; j++) {
                    snprintf(s, sizeof s, "attention.attention.%s.%s", qkv[j], wb);
                    add(l, BNM(s), 2 - k, C, C, 0, 0);
                }
            } else {
                snprintf(s, sizeof s, "attn.qkv.%s", wb);
                add(l, BNM(s), 2 - k, 3 * C, C, 0, 0);
            }
        }
        add(l, BNM(hf ? "attention.output.dense.weight" : "attn.proj.weight"), 2, C, C, 0, 0);
        add(l, BNM(hf ? "attention.output.dense.bias" : "attn.proj.bias"), 1, C, 0, 0, 0);
        const char *in = sw ? (hf ? "mlp.weights_in." : "mlp.w12.") : (hf ? "intermediate.dense." : "mlp.fc1.");
        const char *out = sw ? (hf ? "mlp.weights_out." : "mlp.w3.") : (hf ? "output.dense." : "mlp.fc2.");
        char s[48];
        snprintf(s, sizeof s, "%sweight", in);
        add(l, BNM(s), 2, sw ? 2 * H : H, C, 0, 0);
        snprintf(s, sizeof s, "%sbias", in);
        add(l, BNM(s), 1, sw ? 2 * H : H, 0, 0, 0);
        snprintf(s, sizeof s, "%sweight", out);
        add(l, BNM(s), 2, C, H, 0, 0);
        snprintf(s, sizeof s, "%sbias", out);
        add(l, BNM(s), 1, C, 0, 0, 0);
        if (a->layerscale) {
            add(l, BNM(hf ? "layer_scale1.lambda1" : "ls1.gamma"), 1, C, 0, 0, 0);
            add(l, BNM(hf ? "layer_scale2.lambda1" : "ls2.gamma"), 1, C, 0, 0, 0);
        }
    }
#undef NM
#undef BNM
}

/* Write tensors [from, to) of `l` (zeros, f32) as a safetensors file. */
static void write_st_list(const char *path, const tensor_list *l, int from, int to) {
    size_t cap = 64 * 1024, len = 0, off = 0;
    char *h = malloc(cap);
    len += (size_t)snprintf(h + len, cap - len, "{");
    for (int i = from; i < to; i++) {
        size_t numel = 1;
        len += (size_t)snprintf(h + len, cap - len, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[", i > from ? "," : "",
                                l->names[i]);
        for (int d = 0; d < l->ndims[i]; d++) {
            numel *= (size_t)l->shapes[i][d];
            len += (size_t)snprintf(h + len, cap - len, "%s%lld", d ? "," : "", (long long)l->shapes[i][d]);
        }
        len += (size_t)snprintf(h + len, cap - len, "],\"data_offsets\":[%zu,%zu]}", off, off + 4 * numel);
        off += 4 * numel;
    }
    snprintf(h + len, cap - len, "}");
    write_st_raw(path, (uint64_t)-1, h, off);
    free(h);
}

static void write_text(const char *path, const char *text) { write_bytes(path, text, strlen(text)); }

static const char *DINO_CONFIG =
    "{\"model_type\": \"dinov2\", \"hidden_size\": 48, \"num_hidden_layers\": 2, \"num_attention_heads\": 3,"
    " \"mlp_ratio\": 4, \"patch_size\": 14, \"image_size\": 56, \"use_swiglu_ffn\": true,"
    " \"layer_norm_eps\": 1e-06, \"layerscale_value\": 1e-05, \"qkv_bias\": true}";

/* An HF directory `dir` for tiny-dino with the given config.json text. */
static void make_hf_dir(const char *dir, const char *config) {
    mkdir(dir, 0755);
    tensor_list *l = malloc(sizeof *l);
    model_tensors(l, arch_builtin_find("tiny-dino"), LAYOUT_HF, "", 0);
    char p[600];
    snprintf(p, sizeof p, "%s/config.json", dir);
    write_text(p, config);
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    write_st_list(p, l, 0, l->n);
    free(l);
}

START_TEST(hf_dirs) {
    ws_ckpt c;
    ws_arch a;
    char *dir = path_of("my-model");
    make_hf_dir(dir, DINO_CONFIG);
    ck_assert_msg(ckpt_open(dir, &c) == WS_OK, "%s", ws_error_message());
    ck_assert_int_eq(c.format, WS_CKPT_HF_DIR);
    ck_assert(c.has_arch);
    ck_assert_str_eq(c.arch.name, "tiny-dino");   /* same network as the built-in */
    ck_assert_int_eq(arch_for_checkpoint(&c, NULL, &a), WS_OK);
    ck_assert_int_eq(arch_for_checkpoint(&c, "tiny-dino", &a), WS_OK);
    ck_assert_int_eq(arch_for_checkpoint(&c, "tiny-mae", &a), WS_ERR_ARG);
    printf("%s\n", ws_error_message());
    ck_assert_ptr_nonnull(strstr(ws_error_message(), "config.json describes a different network than --arch tiny-mae"));
    ckpt_close(&c);

    /* no layer_norm_eps: 1e-6 (with a warning), not the transformers 1e-12; name from the directory */
    dir = path_of("eps-less");
    make_hf_dir(dir, "{\"model_type\": \"dinov2\", \"hidden_size\": 48, \"num_hidden_layers\": 2,"
                     "\"num_attention_heads\": 4, \"patch_size\": 14, \"image_size\": 56, \"use_swiglu_ffn\": true}");
    ck_assert_msg(ckpt_open(dir, &c) == WS_OK, "%s", ws_error_message());
    ck_assert_float_eq(c.arch.norm_eps, 1e-6f);
    ck_assert_int_eq(c.arch.num_heads, 4);
    ck_assert_str_eq(c.arch.name, "eps-less");
    ckpt_close(&c);

    /* shapes disagreeing with config.json: error naming the tensor */
    dir = path_of("wrong-depth");
    make_hf_dir(dir, "{\"model_type\": \"dinov2\", \"hidden_size\": 48, \"num_hidden_layers\": 3,"
                     "\"num_attention_heads\": 3, \"patch_size\": 14, \"image_size\": 56, \"use_swiglu_ffn\": true}");
    ck_assert_msg(ckpt_open(dir, &c) == WS_OK, "%s", ws_error_message());
    ck_assert_int_eq(arch_for_checkpoint(&c, NULL, &a), WS_ERR_SHAPE);
    printf("%s\n", ws_error_message());
    ck_assert_ptr_nonnull(strstr(ws_error_message(), "2 blocks"));
    ck_assert_ptr_nonnull(strstr(ws_error_message(), "depth 3"));
    ckpt_close(&c);
    dir = path_of("wrong-res");
    make_hf_dir(dir, "{\"model_type\": \"dinov2\", \"hidden_size\": 48, \"num_hidden_layers\": 2,"
                     "\"num_attention_heads\": 3, \"patch_size\": 14, \"image_size\": 224, \"use_swiglu_ffn\": true}");
    ck_assert_msg(ckpt_open(dir, &c) == WS_OK, "%s", ws_error_message());
    ck_assert_int_eq(arch_for_checkpoint(&c, NULL, &a), WS_ERR_SHAPE);
    printf("%s\n", ws_error_message());
    ck_assert_ptr_nonnull(strstr(ws_error_message(), "tensor 'embeddings.position_embeddings' has shape [1, 17, 48]"));
    ck_assert_ptr_nonnull(strstr(ws_error_message(), "[1, 257, 48]"));
    ckpt_close(&c);

    dir = path_of("clip");
    make_hf_dir(dir, "{\"model_type\": \"clip_vision_model\"}");
    expect_fail(dir, "config.json", "model_type 'clip_vision_model'", NULL);
    dir = path_of("gelu-dinov2");
    make_hf_dir(dir, "{\"model_type\": \"dinov2\", \"hidden_size\": 48}");
    expect_fail(dir, "config.json", "use_swiglu_ffn", NULL);
    dir = path_of("badjson");
    make_hf_dir(dir, "{\"model_type\": ");
    expect_fail(dir, "config.json", "JSON syntax error at line 1, column 15", NULL);
    dir = path_of("jsonarray");
    make_hf_dir(dir, "[1, 2]");
    expect_fail(dir, "config.json", "not a JSON object", NULL);
    dir = path_of("badfield");
    make_hf_dir(dir, "{\"model_type\": \"vit\", \"hidden_size\": \"big\"}");
    expect_fail(dir, "config.json", "'hidden_size'", NULL);
    dir = path_of("tanh");
    make_hf_dir(dir, "{\"model_type\": \"vit\", \"hidden_act\": \"gelu_pytorch_tanh\"}");
    expect_fail(dir, "config.json", "hidden_act", NULL);
    dir = path_of("noconfig");
    mkdir(dir, 0755);
    expect_fail(dir, "config.json", "cannot open", NULL);
    dir = path_of("noweights");
    make_hf_dir(dir, DINO_CONFIG);
    unlink(path_of("noweights/model.safetensors"));
    expect_fail(dir, "model.safetensors.index.json", NULL);
}
END_TEST

/* config.json / preprocessor_config.json values out of range: an error at open naming the file,
 * the key and the value, never a warning followed by defaults. */
START_TEST(hf_config_out_of_range) {
    static const struct { const char *field, *key, *value; } cfg[] = {
        {"\"hidden_size\": 0", "'hidden_size'", "is 0"},
        {"\"num_hidden_layers\": -2", "'num_hidden_layers'", "is -2"},
        {"\"num_attention_heads\": 0", "'num_attention_heads'", "is 0"},
        {"\"image_size\": 100000", "'image_size'", "is 100000"},
        {"\"patch_size\": 0", "'patch_size'", "is 0"},
        {"\"layer_norm_eps\": 0", "'layer_norm_eps'", "is 0"},
        {"\"layer_norm_eps\": -1e-06", "'layer_norm_eps'", "is -1e-06"},
        {"\"layer_norm_eps\": 1000", "'layer_norm_eps'", "is 1000"},
        {"\"mlp_ratio\": 0", "'mlp_ratio'", "is 0"},
        {"\"num_register_tokens\": -1", "'num_register_tokens'", "is -1"},
    };
    char text[1024], name[64];
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) {
        snprintf(name, sizeof name, "cfg-range-%zu", i);
        snprintf(text, sizeof text, "{%s, \"model_type\": \"dinov2\", \"use_swiglu_ffn\": true}", cfg[i].field);
        char *dir = path_of("%s", name);
        make_hf_dir(dir, text);
        expect_fail(dir, "config.json", cfg[i].key, cfg[i].value, NULL);
    }
    static const struct { const char *json, *key, *value; } pre[] = {
        {"{\"do_center_crop\": true, \"size\": {\"shortest_edge\": 0}, \"crop_size\": 224}", "'size.shortest_edge'", "is 0"},
        {"{\"do_center_crop\": true, \"size\": {\"shortest_edge\": 256}, \"crop_size\": {\"height\": -4, \"width\": -4}}",
         "'crop_size.height'", "is -4"},
        {"{\"do_center_crop\": true, \"size\": {\"shortest_edge\": 256}, \"crop_size\": 9000}", "'crop_size'", "is 9000"},
        {"{\"do_center_crop\": false, \"size\": {\"height\": 224, \"width\": 300}}", "'size'", "\"width\":300"},
        {"{\"do_center_crop\": true, \"size\": {\"shortest_edge\": 200}, \"crop_size\": 224}", "'size.shortest_edge' 200", "224"},
        {"{\"do_center_crop\": false, \"size\": 0}", "'size'", "is 0"},
        {"{\"image_std\": [0.2, 0, 0.2]}", "image_std", "0.2, 0"},
        {"{\"resample\": 99}", "'resample'", "is 99"},
    };
    for (size_t i = 0; i < sizeof pre / sizeof pre[0]; i++) {
        snprintf(name, sizeof name, "pre-range-%zu", i);
        char *dir = path_of("%s", name), p[600];
        make_hf_dir(dir, DINO_CONFIG);
        snprintf(p, sizeof p, "%s/preprocessor_config.json", dir);
        write_text(p, pre[i].json);
        expect_fail(dir, "preprocessor_config.json", pre[i].key, pre[i].value, NULL);
    }
}
END_TEST

START_TEST(hf_shards) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s", path_of("sharded"));
    make_hf_dir(dir, DINO_CONFIG);
    unlink(path_of("sharded/model.safetensors"));
    tensor_list *l = malloc(sizeof *l);
    model_tensors(l, arch_builtin_find("tiny-dino"), LAYOUT_HF, "", 0);
    int half = l->n / 2;
    write_st_list(path_of("sharded/model-00001-of-00002.safetensors"), l, 0, half);
    write_st_list(path_of("sharded/model-00002-of-00002.safetensors"), l, half, l->n);
    char index[32768];
    size_t len = (size_t)snprintf(index, sizeof index, "{\"metadata\": {}, \"weight_map\": {");
    for (int i = 0; i < l->n; i++)
        len += (size_t)snprintf(index + len, sizeof index - len, "%s\"%s\": \"model-0000%d-of-00002.safetensors\"",
                                i ? "," : "", l->names[i], i < half ? 1 : 2);
    snprintf(index + len, sizeof index - len, "}}");
    write_text(path_of("sharded/model.safetensors.index.json"), index);
    ws_ckpt c;
    ck_assert_msg(ckpt_open(dir, &c) == WS_OK, "%s", ws_error_message());
    ck_assert_uint_eq(c.num_tensors, (size_t)l->n);
    ck_assert_uint_eq(c.num_files, 2);
    ws_arch a;
    ck_assert_msg(arch_for_checkpoint(&c, NULL, &a) == WS_OK, "%s", ws_error_message());
    ckpt_close(&c);

    /* a tensor listed in the index but absent from its shard */
    char extra[40000];
    snprintf(extra, sizeof extra, "%.*s, \"ghost.weight\": \"model-00002-of-00002.safetensors\"}}", (int)len, index);
    write_text(path_of("sharded/model.safetensors.index.json"), extra);
    expect_fail(dir, "'ghost.weight'", "absent from shard model-00002-of-00002.safetensors", NULL);
    /* a shard named by the index is missing */
    write_text(path_of("sharded/model.safetensors.index.json"), index);
    unlink(path_of("sharded/model-00002-of-00002.safetensors"));
    expect_fail(dir, "shard model-00002-of-00002.safetensors", "missing", NULL);
    write_text(path_of("sharded/model.safetensors.index.json"), "{\"weight_map\": {\"a\": \"../../etc/passwd\"}}");
    expect_fail(dir, "leaves the directory", NULL);
    free(l);
}
END_TEST

START_TEST(layouts_and_matching) {
    tensor_list *l = malloc(sizeof *l);
    ws_ckpt c;
    ws_arch a;
    ws_ckpt_layout L;
    /* original DINO names with block chunks and a module. prefix match tiny-dino */
    model_tensors(l, arch_builtin_find("tiny-dino"), LAYOUT_ORIGINAL, "module.", 2);
    write_st_list(path_of("orig.safetensors"), l, 0, l->n);
    ck_assert_msg(ckpt_open(path_of("orig.safetensors"), &c) == WS_OK, "%s", ws_error_message());
    ck_assert_int_eq(arch_infer(&c, &L), WS_OK);
    ck_assert_str_eq(L.layout->name, "pth-dinov2");
    ck_assert_str_eq(L.prefix, "module.");
    ck_assert_int_eq(L.grid, 4);
    ck_assert_msg(arch_for_checkpoint(&c, NULL, &a) == WS_OK, "%s", ws_error_message());
    ck_assert_str_eq(a.name, "tiny-dino");
    /* --arch that disagrees: error naming the tensor */
    ck_assert_int_eq(arch_for_checkpoint(&c, "webssl-dino300m-full2b-224", &a), WS_ERR_SHAPE);
    printf("%s\n", ws_error_message());
    ck_assert_ptr_nonnull(strstr(ws_error_message(), "tensor 'module.cls_token' has shape [1, 1, 48]"));
    ck_assert_ptr_nonnull(strstr(ws_error_message(), path_of("orig.safetensors")));
    ckpt_close(&c);

    /* timm MAE names with a backbone. prefix */
    model_tensors(l, arch_builtin_find("tiny-mae"), LAYOUT_ORIGINAL, "backbone.", 0);
    write_st_list(path_of("mae.safetensors"), l, 0, l->n);
    ck_assert_msg(ckpt_open(path_of("mae.safetensors"), &c) == WS_OK, "%s", ws_error_message());
    ck_assert_msg(arch_for_checkpoint(&c, NULL, &a) == WS_OK, "%s", ws_error_message());
    ck_assert_str_eq(a.name, "tiny-mae");
    ckpt_close(&c);

    /* no built-in has this depth: the error says what was found and what the nearest expects */
    ws_arch deep = *arch_builtin_find("tiny-dino");
    deep.depth = 3;
    model_tensors(l, &deep, LAYOUT_HF, "", 0);
    write_st_list(path_of("deep.safetensors"), l, 0, l->n);
    ck_assert_msg(ckpt_open(path_of("deep.safetensors"), &c) == WS_OK, "%s", ws_error_message());
    ck_assert_int_eq(arch_for_checkpoint(&c, NULL, &a), WS_ERR_SHAPE);
    printf("%s\n", ws_error_message());
    ck_assert_ptr_nonnull(strstr(ws_error_message(), "nearest tiny-dino expects depth 2 (found 3)"));
    ck_assert_ptr_nonnull(strstr(ws_error_message(), "--arch"));
    ckpt_close(&c);

    /* every built-in (shapes only: an in-memory checkpoint without data) matches itself, or a
     * built-in that is the same network under another name (dino2b full2b / light2b / in1k ...) */
    for (size_t i = 0; i < arch_builtin_count(); i++) {
        const ws_arch *b = arch_builtin_at(i);
        for (int lay = 0; lay < 2; lay++) {
            model_tensors(l, b, (layout)lay, lay ? "module.backbone." : "",
                          lay && b->family == WS_FAMILY_DINO ? 5 : 0);   /* timm MAE blocks are never chunked */
            ws_ckpt m = {.path = "in-memory"};
            for (int k = 0; k < l->n; k++) {
                ws_ckpt_tensor t = {.name = l->names[k], .dtype = WS_DTYPE_F32, .ndim = l->ndims[k], .file = "mem"};
                memcpy(t.shape, l->shapes[k], sizeof l->shapes[k]);
                ck_assert_int_eq(ckpt_add_tensor(&m, &t), WS_OK);
            }
            ck_assert_msg(arch_match_builtin(&m, b->name, &a) == WS_OK, "%s: %s", b->name, ws_error_message());
            ck_assert_str_eq(a.name, b->name);
            ck_assert_msg(arch_match_builtin(&m, NULL, &a) == WS_OK, "%s: %s", b->name, ws_error_message());
            ck_assert(arch_same_shapes(&a, b));
            ck_assert_msg(arch_check(&m, b) == WS_OK, "%s: %s", b->name, ws_error_message());
            m.path = NULL;
            ckpt_close(&m);
        }
    }

    /* a missing block is reported */
    model_tensors(l, arch_builtin_find("tiny-dino"), LAYOUT_HF, "", 0);
    int kept = 0;
    for (int i = 0; i < l->n; i++)
        if (!strstr(l->names[i], "encoder.layer.0.")) {
            if (kept != i) {
                memcpy(l->names[kept], l->names[i], sizeof l->names[0]);
                memcpy(l->shapes[kept], l->shapes[i], sizeof l->shapes[0]);
                l->ndims[kept] = l->ndims[i];
            }
            kept++;
        }
    write_st_list(path_of("gap.safetensors"), l, 0, kept);
    ck_assert_msg(ckpt_open(path_of("gap.safetensors"), &c) == WS_OK, "%s", ws_error_message());
    ck_assert_int_eq(arch_infer(&c, &L), WS_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(ws_error_message(), "block 0 is missing"));
    ckpt_close(&c);

    /* not a ViT at all */
    write_st_raw(path_of("other.safetensors"), (uint64_t)-1,
                 "{\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
    ck_assert_int_eq(ckpt_open(path_of("other.safetensors"), &c), WS_OK);
    ck_assert_int_eq(arch_for_checkpoint(&c, NULL, &a), WS_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(ws_error_message(), "not a ViT checkpoint"));
    ckpt_close(&c);
    free(l);
}
END_TEST

int main(void) {
    Suite *s = suite_create("ckpt_bad");
    TCase *tc = tcase_create("ckpt_bad");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, bad_safetensors);
    tcase_add_test(tc, valid_corners);
    tcase_add_test(tc, strided_read);
    tcase_add_test(tc, hf_dirs);
    tcase_add_test(tc, hf_config_out_of_range);
    tcase_add_test(tc, hf_shards);
    tcase_add_test(tc, layouts_and_matching);
    suite_add_tcase(s, tc);
    return test_run_suite(s, CK_NORMAL);
}
