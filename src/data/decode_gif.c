/* GIF decoding with giflib: the first frame, as Pillow 9.4 shows it: a logical-screen canvas
 * filled with the transparent index (else index 0), the frame's indices drawn at its offset, all
 * mapped through the frame's colour map (else the global one, else grey). */
#include <gif_lib.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "data/decode.h"

typedef struct { const uint8_t *data; size_t size, pos; } gif_src;

static int gif_read(GifFileType *g, GifByteType *out, int n) {
    gif_src *s = g->UserData;
    size_t k = (size_t)n < s->size - s->pos ? (size_t)n : s->size - s->pos;
    memcpy(out, s->data + s->pos, k);
    s->pos += k;
    return (int)k;
}

/* Transparent colour index of a graphics control extension, or -1. */
static int gif_transparent(const GifByteType *ext) {
    return ext[0] >= 4 && (ext[1] & 1) ? ext[4] : -1;
}

int decode_gif(const uint8_t *data, size_t size, const ws_decode_opts *opts, ws_image *img) {
    gif_src src = {data, size, 0};
    int err = 0, rc = WS_OK, transparent = -1;
    GifFileType *g = DGifOpen(&src, gif_read, &err);
    if (!g) return ws_errorf(WS_ERR_FORMAT, "GIF: %s", GifErrorString(err));
    uint8_t *idx = NULL;
    if ((rc = image_alloc_checked(img, g->SWidth, g->SHeight, opts)) < 0) {
        DGifCloseFile(g, &err);
        return ws_error_context(rc, "GIF");
    }
    size_t W = (size_t)g->SWidth, H = (size_t)g->SHeight;
    for (;;) {
        GifRecordType t;
        if (DGifGetRecordType(g, &t) == GIF_ERROR) goto corrupt;
        if (t == EXTENSION_RECORD_TYPE) {
            int code;
            GifByteType *ext;
            if (DGifGetExtension(g, &code, &ext) == GIF_ERROR) goto corrupt;
            if (code == GRAPHICS_EXT_FUNC_CODE && ext) transparent = gif_transparent(ext);
            while (ext)
                if (DGifGetExtensionNext(g, &ext) == GIF_ERROR) goto corrupt;
        } else if (t == IMAGE_DESC_RECORD_TYPE) {
            break;
        } else {
            rc = ws_errorf(WS_ERR_FORMAT, "GIF: no image frame");
            goto out;
        }
    }
    if (DGifGetImageDesc(g) == GIF_ERROR) goto corrupt;
    GifImageDesc *d = &g->Image;
    if (d->Width <= 0 || d->Height <= 0 || (size_t)d->Left + d->Width > W ||
        (size_t)d->Top + d->Height > H) {
        rc = ws_errorf(WS_ERR_UNSUPPORTED, "GIF: first frame outside the logical screen");
        goto out;
    }
    idx = malloc(W * H);
    if (!idx) { rc = ws_errorf(WS_ERR_NOMEM, "GIF: out of memory"); goto out; }
    memset(idx, transparent >= 0 ? transparent : 0, W * H);
    static const int ilace_start[] = {0, 4, 2, 1}, ilace_step[] = {8, 8, 4, 2};
    int passes = d->Interlace ? 4 : 1;
    for (int p = 0; p < passes; p++) {
        int y0 = d->Interlace ? ilace_start[p] : 0, dy = d->Interlace ? ilace_step[p] : 1;
        for (int y = y0; y < d->Height; y += dy)
            if (DGifGetLine(g, idx + (size_t)(d->Top + y) * W + d->Left, d->Width) == GIF_ERROR)
                goto corrupt;
    }
    const ColorMapObject *cm = d->ColorMap ? d->ColorMap : g->SColorMap;
    for (size_t i = 0; i < W * H; i++) {
        uint8_t *o = img->rgb + 3 * i;
        if (!cm) { o[0] = o[1] = o[2] = idx[i]; }
        else if (idx[i] < cm->ColorCount) {
            const GifColorType *c = &cm->Colors[idx[i]];
            o[0] = c->Red; o[1] = c->Green; o[2] = c->Blue;
        } else { o[0] = o[1] = o[2] = 0; }
    }
    goto out;
corrupt:
    rc = ws_errorf(WS_ERR_FORMAT, "GIF: %s", GifErrorString(g->Error));
out:
    free(idx);
    DGifCloseFile(g, &err);
    return rc;
}
