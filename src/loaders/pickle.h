/* Restricted unpickler for the data.pkl of a torch.save archive. It rebuilds the data structure
 * (dicts, lists, tuples, strings, numbers) and the tensor descriptions (storage key, dtype,
 * offset, shape, strides) without running any code: the only globals it accepts are the few a
 * state_dict needs (collections.OrderedDict, torch._utils._rebuild_tensor_v2,
 * torch._utils._rebuild_parameter[_with_state], torch.<Type>Storage, _codecs.encode), each
 * interpreted by a fixed rule here. Any other global (os.system, builtins.eval, subprocess.Popen,
 * ...) is refused with a message naming it, as are opcodes that build arbitrary objects.
 *
 * Limits: nesting depth (WS_PK_MAX_DEPTH), memo size (WS_PK_MAX_MEMO), tensor rank 8. Tensor
 * extents are checked against the element count the storage record claims; checking that count
 * against the archive entry is the caller's job. */
#ifndef WEBSSL_LOADERS_PICKLE_H
#define WEBSSL_LOADERS_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#define WS_PK_MAX_DEPTH 64
#define WS_PK_MAX_MEMO (1 << 20)
#define WS_PK_MAX_DIMS 8

typedef enum {
    PK_NONE = 0, PK_BOOL, PK_INT, PK_FLOAT, PK_STR, PK_BYTES,
    PK_TUPLE, PK_LIST, PK_DICT,
    PK_GLOBAL,    /* one of the allowed callables / storage classes */
    PK_STORAGE,   /* a persistent-id storage record */
    PK_TENSOR,
} pk_kind;

/* Storage classes torch.save names ("torch.FloatStorage"...). dtype is a ws_dtype for the float
 * types the model reads, -1 for the others (parsed, then skipped by the loader). */
typedef struct {
    const char *name;   /* e.g. "FloatStorage" */
    int elsize;         /* bytes per element */
    int dtype;          /* ws_dtype or -1 */
} pk_storage_type;

typedef struct pk_value pk_value;
struct pk_value {
    pk_kind kind;
    int depth;                 /* container nesting below this value (0 for scalars) */
    int nrefs;                 /* containers holding this value: a walker that only descends into
                                  containers with nrefs == 1 from a root with nrefs == 0 sees a tree
                                  (memo references can make shared and cyclic structures) */
    pk_value *next_alloc;      /* allocation chain owned by the pk_doc */
    union {
        int64_t i;             /* PK_BOOL, PK_INT */
        double f;              /* PK_FLOAT */
        struct { char *s; size_t n; } str;                 /* PK_STR (UTF-8), PK_BYTES; NUL-terminated */
        struct { pk_value **items; size_t n, cap; } seq;   /* TUPLE/LIST; DICT: key, value, key, value... */
        struct { int id; const pk_storage_type *storage; } global;
        struct { const pk_storage_type *type; char *key; int64_t numel; } storage;
        struct {
            const pk_value *storage;   /* PK_STORAGE */
            int64_t offset;            /* in elements */
            int ndim;
            int64_t shape[WS_PK_MAX_DIMS];
            int64_t stride[WS_PK_MAX_DIMS];   /* in elements */
        } tensor;
    } u;
};

typedef struct {
    pk_value *root;       /* the unpickled object */
    pk_value *values;     /* every value, for pk_free */
} pk_doc;

/* Unpickle `data[0, len)`. `label` names the input in error messages. Returns WS_OK or a negative
 * ws_err with a message naming the problem and its byte offset; on failure `out` needs no pk_free. */
int pk_parse(const void *data, size_t len, const char *label, pk_doc *out);
/* The same for a pickle followed by other bytes (torch's legacy format writes several in a row):
 * *used receives the bytes up to and including its STOP opcode. */
int pk_parse_prefix(const void *data, size_t len, const char *label, pk_doc *out, size_t *used);
void pk_free(pk_doc *d);

/* Number of key/value pairs of a PK_DICT, and the i-th key and value. */
static inline size_t pk_dict_size(const pk_value *d) { return d->u.seq.n / 2; }
static inline const pk_value *pk_dict_key(const pk_value *d, size_t i) { return d->u.seq.items[2 * i]; }
static inline const pk_value *pk_dict_value(const pk_value *d, size_t i) { return d->u.seq.items[2 * i + 1]; }
/* Value stored under the string key `key` in a PK_DICT (the last one, as Python keeps), or NULL. */
const pk_value *pk_dict_get(const pk_value *d, const char *key);

#endif
