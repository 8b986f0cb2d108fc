/* Test tool: run a checkpoint on raw pixels and write its outputs for comparison with PyTorch.
 * usage: pth_forward MODEL PIXELS.f32 B R OUTDIR ARCH|- fp32|bf16 HEAD|-|model
 * PIXELS.f32 holds B x 3 x R x R normalised floats. Writes OUTDIR/cls.f32 [B, C],
 * patch_mean.f32 [B, C], patch.f32 [B, g*g, C]; with a head (a file, or "model" for the model
 * checkpoint itself) also head.f32 [B, bottleneck], proto_index.i32 and proto_score.f32 [B].
 * Position embeddings use the original DINOv2 interpolation rule. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/head.h"
#include "webssl.h"

static int write_file(const char *dir, const char *name, const void *data, size_t bytes) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(data, 1, bytes, f) == bytes;
    if (f) ok &= fclose(f) == 0;
    return ok ? WS_OK : ws_errorf(WS_ERR_IO, "%s: cannot write", path);
}

static int run(char **argv) {
    const char *model = argv[1], *pixels_path = argv[2], *dir = argv[5], *arch = argv[6], *head_arg = argv[8];
    int B = atoi(argv[3]), R = atoi(argv[4]);
    ws_model_options o;
    ws_model_options_init(&o);
    o.posembed = WS_POSEMBED_ORIGINAL;
    if (strcmp(arch, "-")) o.arch = arch;
    int rc = ws_dtype_parse(argv[7], &o.compute);
    ws_model *m = NULL;
    ws_dino_head h = {0};
    float *pix = NULL, *cls = NULL, *mean = NULL, *patch = NULL, *z = NULL, *score = NULL;
    int32_t *idx = NULL;
    if (rc == WS_OK) rc = ws_model_load(model, &o, &m);
    if (rc != WS_OK) goto done;
    const int C = ws_model_arch(m)->embed_dim, g = R / ws_model_arch(m)->patch_size;
    size_t npix = (size_t)B * 3 * R * R;
    pix = malloc(npix * sizeof *pix);
    cls = malloc((size_t)B * C * sizeof *cls);
    mean = malloc((size_t)B * C * sizeof *mean);
    patch = malloc((size_t)B * g * g * C * sizeof *patch);
    FILE *f = fopen(pixels_path, "rb");
    if (!pix || !cls || !mean || !patch || !f || fread(pix, sizeof *pix, npix, f) != npix) {
        if (f) fclose(f);
        rc = ws_errorf(WS_ERR_IO, "%s: cannot read %zu pixels", pixels_path, npix);
        goto done;
    }
    fclose(f);
    ws_features feat = {.cls = cls, .patch_mean = mean, .patch = patch};
    if ((rc = ws_model_forward(m, pix, B, R, &feat))) goto done;
    if ((rc = write_file(dir, "cls.f32", cls, (size_t)B * C * 4))) goto done;
    if ((rc = write_file(dir, "patch_mean.f32", mean, (size_t)B * C * 4))) goto done;
    if ((rc = write_file(dir, "patch.f32", patch, (size_t)B * g * g * C * 4))) goto done;
    if (strcmp(head_arg, "-")) {
        if ((rc = head_load_file(strcmp(head_arg, "model") ? head_arg : model, &h))) goto done;
        if (head_in_dim(&h) != C) {
            rc = ws_errorf(WS_ERR_SHAPE, "head takes %d inputs, the model gives %d", head_in_dim(&h), C);
            goto done;
        }
        const int D = head_bottleneck(&h);
        z = malloc((size_t)B * D * sizeof *z);
        idx = malloc((size_t)B * sizeof *idx);
        score = malloc((size_t)B * sizeof *score);
        if (!z || !idx || !score) { rc = ws_errorf(WS_ERR_NOMEM, "out of memory"); goto done; }
        if ((rc = head_forward(&h, cls, B, z))) goto done;
        if ((rc = write_file(dir, "head.f32", z, (size_t)B * D * 4))) goto done;
        if ((rc = head_protos(&h, z, B, idx, score))) goto done;
        if ((rc = write_file(dir, "proto_index.i32", idx, (size_t)B * 4))) goto done;
        rc = write_file(dir, "proto_score.f32", score, (size_t)B * 4);
    }
done:
    head_free(&h);
    if (m) ws_model_free(m);
    free(pix); free(cls); free(mean); free(patch); free(z); free(idx); free(score);
    return rc;
}

int main(int argc, char **argv) {
    if (argc != 9) {
        fprintf(stderr, "usage: pth_forward MODEL PIXELS.f32 B R OUTDIR ARCH|- fp32|bf16 HEAD|-|model\n");
        return 2;
    }
    int rc = run(argv);
    if (rc != WS_OK) fprintf(stderr, "error: %s\n", ws_error_message());
    return rc == WS_OK ? 0 : 1;
}
