/* Test helper: decode an image file with the program's decoders and optionally resize it with the
 * Pillow-exact resize, writing raw results for the Python tests to compare with Pillow.
 *   image_tool [--exif] [--max-pixels N] FILE OUT [W H]
 * OUT receives "w h\n" + w*h*3 RGB bytes, then, with W H, the resized W*H*3 bytes, then, with
 * --crop S R, the R*R*3 bytes of the crop-mode preprocessing (shorter side to S, centre crop R)
 * of a second decode limited to the region the crop reads.
 * On a decode failure it prints "status <code> <name>: <message>" and exits with 3.
 *   image_tool --bench S R [--fast] [--fresh] FILE...
 * decodes and preprocesses (crop mode, ImageNet mean/std, float output) the files one after the
 * other on one thread, reading each inside the loop, and prints "images N cpu_seconds T
 * decode_seconds D minor_faults F" (D: the part spent in decoding; F: page faults in the loop):
 * the in-process twin of the Pillow + torchvision loop in tests/bench/bench_preprocess.py. The
 * pixel buffer is reused and freed memory kept (pipeline_malloc_setup) as in the pipeline;
 * --fresh allocates one per image with glibc's default settings (how it was before).
 *   image_tool --write-ycck IN OUT.jpg
 * encodes IN ("w h\n" + w*h*4 CMYK bytes) as an Adobe YCCK JPEG (Pillow cannot write one). */
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>

#include <jpeglib.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "data/decode.h"
#include "data/image_status.h"
#include "data/pipeline.h"
#include "data/preprocess.h"
#include "data/resize_pil.h"

static uint8_t *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, len = 0;
    uint8_t *buf = malloc(cap);
    size_t k;
    while (buf && (k = fread(buf + len, 1, cap - len, f)) > 0) {
        len += k;
        if (len == cap) buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    *n = len;
    return buf;
}

static int write_ycck(const char *in, const char *out) {
    size_t n = 0;
    uint8_t *raw = read_all(in, &n);
    int w, h, off;
    if (!raw || sscanf((const char *)raw, "%d %d\n%n", &w, &h, &off) != 2 ||
        (size_t)off + (size_t)w * h * 4 > n)
        return 1;
    FILE *f = fopen(out, "wb");
    if (!f) return 1;
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = 4;
    c.in_color_space = JCS_CMYK;
    jpeg_set_defaults(&c);
    jpeg_set_colorspace(&c, JCS_YCCK);
    jpeg_set_quality(&c, 90, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = raw + off + (size_t)c.next_scanline * w * 4;
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
    free(raw);
    return 0;
}

static double cpu_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int bench(int argc, char **argv) {
    ws_preprocess pre = {WS_PREPROCESS_CROP, atoi(argv[2]), atoi(argv[3]),
                         {0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}};
    ws_decode_opts o = {.max_pixels = WS_DEFAULT_MAX_PIXELS, .region = preprocess_source_region,
                        .region_ctx = &pre};
    int a = 4, fresh = 0;
    for (; a < argc && !strncmp(argv[a], "--", 2); a++) {
        if (!strcmp(argv[a], "--fast")) o.fast_min_side = pre.resize;
        if (!strcmp(argv[a], "--fresh")) fresh = 1;   /* a new pixel buffer per image, glibc's defaults */
    }
    if (!fresh) pipeline_malloc_setup();   /* as the pipeline runs */
    float *chw = malloc((size_t)3 * pre.crop * pre.crop * sizeof *chw);
    if (!chw) return 1;
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    double t0 = cpu_seconds(), t_decode = 0.0;
    int n = 0;
    ws_image img = {0};   /* reused from image to image, as the pipeline's workers do */
    for (; a < argc; a++) {
        size_t len = 0;
        uint8_t *data = read_all(argv[a], &len);
        double td = cpu_seconds();
        if (fresh) image_free(&img);
        int rc = data ? image_decode_into(data, len, &o, &img) : -1;
        t_decode += cpu_seconds() - td;
        if (rc < 0 || preprocess_image(&img, &pre, NULL, chw) < 0) {
            fprintf(stderr, "%s: %s\n", argv[a], ws_error_message());
            return 1;
        }
        free(data);
        n++;
    }
    double t = cpu_seconds() - t0;
    getrusage(RUSAGE_SELF, &ru1);
    printf("images %d cpu_seconds %.6f decode_seconds %.6f minor_faults %ld\n", n, t, t_decode,
           ru1.ru_minflt - ru0.ru_minflt);
    image_free(&img);
    free(chw);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 4 && !strcmp(argv[1], "--bench")) return bench(argc, argv);
    if (argc == 4 && !strcmp(argv[1], "--write-ycck")) return write_ycck(argv[2], argv[3]);
    ws_decode_opts o = {.max_pixels = WS_DEFAULT_MAX_PIXELS};
    ws_preprocess pre = {WS_PREPROCESS_CROP, 0, 0, {0.5f, 0.5f, 0.5f}, {0.5f, 0.5f, 0.5f}};
    int a = 1;
    for (; a < argc && argv[a][0] == '-' && argv[a][1] == '-'; a++) {
        if (!strcmp(argv[a], "--exif")) o.exif_transpose = 1;
        else if (!strcmp(argv[a], "--max-pixels") && a + 1 < argc) o.max_pixels = strtoull(argv[++a], NULL, 10);
        else if (!strcmp(argv[a], "--fast") && a + 1 < argc) o.fast_min_side = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--crop") && a + 2 < argc) {
            pre.resize = atoi(argv[++a]);
            pre.crop = atoi(argv[++a]);
        }
    }
    if (argc - a != 2 && argc - a != 4) {
        fprintf(stderr, "usage: image_tool [--exif] [--max-pixels N] [--fast S] [--crop S R] FILE OUT [W H]\n");
        return 1;
    }
    size_t n = 0;
    uint8_t *data = read_all(argv[a], &n);
    if (!data) { printf("status %d %s: cannot read\n", WS_IMG_READ_ERROR, image_status_name(WS_IMG_READ_ERROR)); return 3; }
    ws_image img;
    int rc = image_decode(data, n, &o, &img);
    if (rc < 0) {
        free(data);
        int st = n == 0 ? WS_IMG_EMPTY : image_status_from_err(rc);
        printf("status %d %s: %s\n", st, image_status_name(st), ws_error_message());
        return 3;
    }
    FILE *f = fopen(argv[a + 1], "wb");
    if (!f) return 1;
    fprintf(f, "%d %d\n", img.w, img.h);
    fwrite(img.rgb, 1, (size_t)img.w * img.h * 3, f);
    if (argc - a == 4) {
        int W = atoi(argv[a + 2]), H = atoi(argv[a + 3]);
        uint8_t *dst = malloc((size_t)W * H * 3);
        if (!dst || resize_pil_bicubic(img.rgb, img.w, img.h, dst, W, H) < 0) return 1;
        fwrite(dst, 1, (size_t)W * H * 3, f);
        free(dst);
    }
    if (pre.crop > 0) {   /* decoded again, only the region the crop reads, as the pipeline does */
        ws_decode_opts ro = o;
        ro.region = preprocess_source_region;
        ro.region_ctx = &pre;
        ws_image part;
        uint8_t *u8 = malloc((size_t)pre.crop * pre.crop * 3);
        if (!u8 || image_decode(data, n, &ro, &part) < 0 ||
            preprocess_image(&part, &pre, u8, NULL) < 0)
            return 1;
        fwrite(u8, 1, (size_t)pre.crop * pre.crop * 3, f);
        image_free(&part);
        free(u8);
    }
    fclose(f);
    free(data);
    image_free(&img);
    return 0;
}
