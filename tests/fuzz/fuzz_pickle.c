/* libFuzzer target for the restricted unpickler: the input is a data.pkl. Parsing must fail
 * cleanly or give a value tree whose strings lie in allocated memory, whose tensors stay inside
 * the element count their storage claims, and whose containers can be walked (cycles and depth are
 * kept out of the walk by pk_value.nrefs, as in the checkpoint reader). Nothing the input names is ever executed. */
#include <stdint.h>
#include <stdlib.h>

#include "loaders/pickle.h"

static volatile unsigned sink;

static void walk(const pk_value *v, int depth) {
    if (depth > WS_PK_MAX_DEPTH) return;
    switch (v->kind) {
    case PK_STR: case PK_BYTES:
        for (size_t i = 0; i < v->u.str.n; i++) sink += (unsigned char)v->u.str.s[i];
        break;
    case PK_TUPLE: case PK_LIST: case PK_DICT:
        /* descend only where the structure is a tree (see pk_value.nrefs), as the loader does */
        for (size_t i = 0; i < v->u.seq.n; i++)
            if (v->u.seq.items[i]->nrefs == 1) walk(v->u.seq.items[i], depth + 1);
        break;
    case PK_TENSOR: {
        const pk_value *st = v->u.tensor.storage;
        int64_t last = v->u.tensor.offset;
        int empty = 0;
        for (int d = 0; d < v->u.tensor.ndim; d++) {
            if (v->u.tensor.shape[d] == 0) empty = 1;
            else last += (v->u.tensor.shape[d] - 1) * v->u.tensor.stride[d];
        }
        if (!empty && last >= st->u.storage.numel) abort();   /* the unpickler must have refused it */
        break;
    }
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pk_doc doc;
    if (pk_parse(data, size, "fuzz.pkl", &doc) != 0) return 0;
    if (!doc.root->nrefs) walk(doc.root, 0);
    pk_free(&doc);
    return 0;
}
