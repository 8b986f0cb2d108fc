/* Restricted unpickler (see pickle.h): an opcode interpreter over a value stack, a mark stack and
 * a memo, where GLOBAL only resolves names from a fixed allow-list and REDUCE only applies the
 * fixed rules below. Nothing is ever looked up dynamically or executed. */
#include "loaders/pickle.h"
#include "common/dtype.h"
#include "common/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_GLOBAL_NAME 256

enum {
    G_ORDERED_DICT = 0,
    G_REBUILD_TENSOR_V2,
    G_REBUILD_PARAMETER,
    G_REBUILD_PARAMETER_STATE,
    G_CODECS_ENCODE,
    G_STORAGE,
};

static const pk_storage_type storage_types[] = {
    {"FloatStorage", 4, WS_DTYPE_F32},  {"HalfStorage", 2, WS_DTYPE_F16},
    {"BFloat16Storage", 2, WS_DTYPE_BF16}, {"DoubleStorage", 8, -1},
    {"LongStorage", 8, -1}, {"IntStorage", 4, -1}, {"ShortStorage", 2, -1},
    {"CharStorage", 1, -1}, {"ByteStorage", 1, -1}, {"BoolStorage", 1, -1},
};

static const struct { const char *module, *name; int id; } allowed_globals[] = {
    {"collections", "OrderedDict", G_ORDERED_DICT},
    {"torch._utils", "_rebuild_tensor_v2", G_REBUILD_TENSOR_V2},
    {"torch._utils", "_rebuild_parameter", G_REBUILD_PARAMETER},
    {"torch._utils", "_rebuild_parameter_with_state", G_REBUILD_PARAMETER_STATE},
    {"_codecs", "encode", G_CODECS_ENCODE},
};

typedef struct {
    const unsigned char *start, *p, *end;
    const char *label;
    pk_doc *doc;
    pk_value **stack;
    size_t sp, stack_cap;
    size_t *marks;
    size_t num_marks, marks_cap;
    pk_value **memo;
    size_t memo_cap, memo_count;
    size_t op_offset;          /* offset of the opcode being run, for messages */
} unpickler;

static const char *kind_name(pk_kind k) {
    static const char *names[] = {"None", "bool", "int", "float", "str", "bytes", "tuple",
                                  "list", "dict", "global", "storage", "tensor"};
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "?";
}

static int fail(unpickler *u, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(unpickler *u, int code, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ws_errorf(code, "%s: pickle byte %zu: %s", u->label, u->op_offset, msg);
}

static pk_value *new_value(unpickler *u, pk_kind kind) {
    pk_value *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    v->kind = kind;
    v->next_alloc = u->doc->values;
    u->doc->values = v;
    return v;
}

static int push(unpickler *u, pk_value *v) {
    if (!v) return fail(u, WS_ERR_NOMEM, "out of memory");
    if (u->sp == u->stack_cap) {
        size_t cap = u->stack_cap ? 2 * u->stack_cap : 64;
        pk_value **grown = realloc(u->stack, cap * sizeof *grown);
        if (!grown) return fail(u, WS_ERR_NOMEM, "out of memory");
        u->stack = grown;
        u->stack_cap = cap;
    }
    u->stack[u->sp++] = v;
    return WS_OK;
}

static int pop(unpickler *u, pk_value **v) {
    size_t floor = u->num_marks ? u->marks[u->num_marks - 1] : 0;
    if (u->sp <= floor) return fail(u, WS_ERR_FORMAT, "stack underflow");
    *v = u->stack[--u->sp];
    return WS_OK;
}

static int top(unpickler *u, pk_value **v) {
    size_t floor = u->num_marks ? u->marks[u->num_marks - 1] : 0;
    if (u->sp <= floor) return fail(u, WS_ERR_FORMAT, "stack underflow");
    *v = u->stack[u->sp - 1];
    return WS_OK;
}

/* Pop the topmost mark; *first is the stack index of the first item above it. */
static int pop_mark(unpickler *u, size_t *first) {
    if (!u->num_marks) return fail(u, WS_ERR_FORMAT, "no MARK on the stack");
    *first = u->marks[--u->num_marks];
    return WS_OK;
}

static int seq_append(unpickler *u, pk_value *seq, pk_value *item) {
    if (seq->u.seq.n == seq->u.seq.cap) {
        size_t cap = seq->u.seq.cap ? 2 * seq->u.seq.cap : 4;
        pk_value **grown = realloc(seq->u.seq.items, cap * sizeof *grown);
        if (!grown) return fail(u, WS_ERR_NOMEM, "out of memory");
        seq->u.seq.items = grown;
        seq->u.seq.cap = cap;
    }
    seq->u.seq.items[seq->u.seq.n++] = item;
    item->nrefs++;
    if (item->depth + 1 > seq->depth) seq->depth = item->depth + 1;
    if (seq->depth > WS_PK_MAX_DEPTH)
        return fail(u, WS_ERR_LIMIT, "data nested deeper than %d levels", WS_PK_MAX_DEPTH);
    return WS_OK;
}

/* A new tuple/list/dict holding stack[first, sp) (pairs for a dict); the items are popped. */
static int build_seq(unpickler *u, pk_kind kind, size_t first) {
    if (kind == PK_DICT && (u->sp - first) % 2)
        return fail(u, WS_ERR_FORMAT, "odd number of items for a dict");
    pk_value *v = new_value(u, kind);
    if (!v) return fail(u, WS_ERR_NOMEM, "out of memory");
    for (size_t i = first; i < u->sp; i++) {
        int rc = seq_append(u, v, u->stack[i]);
        if (rc != WS_OK) return rc;
    }
    u->sp = first;
    return push(u, v);
}

static int need(unpickler *u, size_t n) {
    if ((size_t)(u->end - u->p) < n) return fail(u, WS_ERR_FORMAT, "truncated (needs %zu more bytes)", n);
    return WS_OK;
}

static uint64_t read_le(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static int push_int(unpickler *u, pk_kind kind, int64_t i) {
    pk_value *v = new_value(u, kind);
    if (v) v->u.i = i;
    return push(u, v);
}

/* LONG1/LONG4 payload: little-endian two's complement, at most 8 bytes here. */
static int push_long(unpickler *u, uint64_t n) {
    if (n > 8) return fail(u, WS_ERR_LIMIT, "integer of %llu bytes is too large", (unsigned long long)n);
    int rc = need(u, (size_t)n);
    if (rc != WS_OK) return rc;
    uint64_t raw = read_le(u->p, (int)n);
    if (n > 0 && n < 8 && (u->p[n - 1] & 0x80)) raw |= ~(uint64_t)0 << (8 * n);   /* sign-extend */
    u->p += n;
    int64_t val;
    memcpy(&val, &raw, sizeof val);
    return push_int(u, PK_INT, n ? val : 0);
}

static int push_string(unpickler *u, pk_kind kind, uint64_t n) {
    if (n > (uint64_t)(u->end - u->p)) return fail(u, WS_ERR_FORMAT, "string of %llu bytes runs past the end",
                                                   (unsigned long long)n);
    pk_value *v = new_value(u, kind);
    if (!v) return fail(u, WS_ERR_NOMEM, "out of memory");
    v->u.str.s = malloc((size_t)n + 1);
    if (!v->u.str.s) return fail(u, WS_ERR_NOMEM, "out of memory");
    memcpy(v->u.str.s, u->p, (size_t)n);
    v->u.str.s[n] = '\0';
    v->u.str.n = (size_t)n;
    u->p += n;
    return push(u, v);
}

/* Protocol 2 writes some Python 3 modules under their Python 2 names; messages use the real ones. */
static const char *python3_module(const char *module) {
    static const char *aliases[][2] = {{"__builtin__", "builtins"}, {"copy_reg", "copyreg"},
                                       {"commands", "subprocess"}, {"posix", "os"}, {"nt", "os"}};
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (!strcmp(module, aliases[i][0])) return aliases[i][1];
    return module;
}

static int resolve_global(unpickler *u, const char *module, const char *name) {
    pk_value *v = new_value(u, PK_GLOBAL);
    if (!v) return fail(u, WS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < sizeof allowed_globals / sizeof allowed_globals[0]; i++)
        if (!strcmp(module, allowed_globals[i].module) && !strcmp(name, allowed_globals[i].name)) {
            v->u.global.id = allowed_globals[i].id;
            return push(u, v);
        }
    if (!strcmp(module, "torch"))
        for (size_t i = 0; i < sizeof storage_types / sizeof storage_types[0]; i++)
            if (!strcmp(name, storage_types[i].name)) {
                v->u.global.id = G_STORAGE;
                v->u.global.storage = &storage_types[i];
                return push(u, v);
            }
    const char *py3 = python3_module(module);
    return fail(u, WS_ERR_FORMAT, "refusing global '%s.%s'%s%s%s%s%s: a checkpoint's state_dict never needs it "
                "(allowed: collections.OrderedDict, torch._utils._rebuild_tensor_v2, "
                "torch._utils._rebuild_parameter, torch.<Type>Storage, _codecs.encode)", py3, name,
                py3 != module ? " (written as '" : "", py3 != module ? module : "", py3 != module ? "." : "",
                py3 != module ? name : "", py3 != module ? "')" : "");
}

/* GLOBAL: "module\nname\n". */
static int op_global(unpickler *u) {
    char parts[2][MAX_GLOBAL_NAME];
    for (int k = 0; k < 2; k++) {
        size_t left = (size_t)(u->end - u->p), max = left < MAX_GLOBAL_NAME ? left : MAX_GLOBAL_NAME;
        const unsigned char *nl = memchr(u->p, '\n', max);
        if (!nl) return fail(u, WS_ERR_FORMAT, "GLOBAL name missing its newline or longer than %d bytes",
                             MAX_GLOBAL_NAME - 1);
        size_t n = (size_t)(nl - u->p);
        memcpy(parts[k], u->p, n);
        parts[k][n] = '\0';
        if (memchr(parts[k], '\0', n)) return fail(u, WS_ERR_FORMAT, "GLOBAL name contains a NUL byte");
        u->p = nl + 1;
    }
    return resolve_global(u, parts[0], parts[1]);
}

static int op_stack_global(unpickler *u) {
    pk_value *name = NULL, *module = NULL;
    int rc = pop(u, &name);
    if (rc == WS_OK) rc = pop(u, &module);
    if (rc != WS_OK) return rc;
    if (name->kind != PK_STR || module->kind != PK_STR)
        return fail(u, WS_ERR_FORMAT, "STACK_GLOBAL needs two strings");
    return resolve_global(u, module->u.str.s, name->u.str.s);
}

static int memo_put(unpickler *u, uint64_t idx) {
    pk_value *v = NULL;
    int rc = top(u, &v);
    if (rc != WS_OK) return rc;
    /* The pickler numbers memo entries 0, 1, 2...: an index past the count so far is forged. */
    if (idx > u->memo_count) return fail(u, WS_ERR_FORMAT, "memo index %llu skips ahead of the %zu entries so far",
                                         (unsigned long long)idx, u->memo_count);
    if (idx >= WS_PK_MAX_MEMO) return fail(u, WS_ERR_LIMIT, "memo index %llu exceeds the limit %d",
                                           (unsigned long long)idx, WS_PK_MAX_MEMO);
    if (idx >= u->memo_cap) {
        size_t cap = u->memo_cap ? u->memo_cap : 256;
        while (cap <= idx) cap *= 2;
        pk_value **grown = realloc(u->memo, cap * sizeof *grown);
        if (!grown) return fail(u, WS_ERR_NOMEM, "out of memory");
        memset(grown + u->memo_cap, 0, (cap - u->memo_cap) * sizeof *grown);
        u->memo = grown;
        u->memo_cap = cap;
    }
    if (!u->memo[idx]) u->memo_count++;
    u->memo[idx] = v;
    return WS_OK;
}

static int memo_get(unpickler *u, uint64_t idx) {
    if (idx >= u->memo_cap || !u->memo[idx])
        return fail(u, WS_ERR_FORMAT, "memo entry %llu read before it was written", (unsigned long long)idx);
    return push(u, u->memo[idx]);
}

/* BINPERSID: ('storage', <Type>Storage, key, location, numel[, None]) -> a storage record. */
static int op_persid(unpickler *u) {
    pk_value *pid = NULL;
    int rc = pop(u, &pid);
    if (rc != WS_OK) return rc;
    pk_value **it = pid->u.seq.items;
    /* the legacy (non-zip) format adds a 6th item, view metadata: None for every storage it writes */
    if (pid->kind != PK_TUPLE || pid->u.seq.n < 5 || pid->u.seq.n > 6 || it[0]->kind != PK_STR ||
        strcmp(it[0]->u.str.s, "storage") || it[1]->kind != PK_GLOBAL || it[1]->u.global.id != G_STORAGE ||
        it[2]->kind != PK_STR || it[3]->kind != PK_STR || it[4]->kind != PK_INT ||
        (pid->u.seq.n == 6 && it[5]->kind != PK_NONE))
        return fail(u, WS_ERR_FORMAT, "persistent id is not a ('storage', type, key, location, numel[, None]) record");
    const pk_storage_type *type = it[1]->u.global.storage;
    int64_t numel = it[4]->u.i;
    if (numel < 0 || numel > INT64_MAX / type->elsize)
        return fail(u, WS_ERR_FORMAT, "storage '%s' claims %lld elements", it[2]->u.str.s, (long long)numel);
    pk_value *v = new_value(u, PK_STORAGE);
    if (!v) return fail(u, WS_ERR_NOMEM, "out of memory");
    v->u.storage.type = type;
    v->u.storage.key = it[2]->u.str.s;   /* owned by the key string value, freed with the doc */
    v->u.storage.numel = numel;
    return push(u, v);
}

static int read_dims(unpickler *u, const pk_value *t, int64_t *dims, const char *what) {
    if (t->kind != PK_TUPLE) return fail(u, WS_ERR_FORMAT, "tensor %s is a %s, not a tuple", what, kind_name(t->kind));
    if (t->u.seq.n > WS_PK_MAX_DIMS)
        return fail(u, WS_ERR_UNSUPPORTED, "tensor of rank %zu (at most %d)", t->u.seq.n, WS_PK_MAX_DIMS);
    for (size_t d = 0; d < t->u.seq.n; d++) {
        const pk_value *x = t->u.seq.items[d];
        if (x->kind != PK_INT || x->u.i < 0)
            return fail(u, WS_ERR_FORMAT, "tensor %s[%zu] is negative or not an int", what, d);
        dims[d] = x->u.i;
    }
    return WS_OK;
}

/* _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata]). */
static int rebuild_tensor(unpickler *u, const pk_value *args) {
    pk_value **a = args->u.seq.items;
    if (args->u.seq.n != 6 && args->u.seq.n != 7)
        return fail(u, WS_ERR_FORMAT, "_rebuild_tensor_v2 takes 6 or 7 arguments, got %zu", args->u.seq.n);
    if (a[0]->kind != PK_STORAGE) return fail(u, WS_ERR_FORMAT, "_rebuild_tensor_v2 without a storage");
    if (a[1]->kind != PK_INT || a[1]->u.i < 0) return fail(u, WS_ERR_FORMAT, "tensor storage offset is negative or not an int");
    pk_value *v = new_value(u, PK_TENSOR);
    if (!v) return fail(u, WS_ERR_NOMEM, "out of memory");
    int rc = read_dims(u, a[2], v->u.tensor.shape, "size");
    if (rc == WS_OK) rc = read_dims(u, a[3], v->u.tensor.stride, "stride");
    if (rc != WS_OK) return rc;
    if (a[2]->u.seq.n != a[3]->u.seq.n)
        return fail(u, WS_ERR_FORMAT, "tensor has %zu sizes but %zu strides", a[2]->u.seq.n, a[3]->u.seq.n);
    const pk_value *st = a[0];
    v->u.tensor.storage = st;
    v->u.tensor.offset = a[1]->u.i;
    v->u.tensor.ndim = (int)a[2]->u.seq.n;
    /* Highest element index touched: offset + sum((size-1) * stride), checked for overflow. */
    int64_t numel = 1, last = v->u.tensor.offset;
    int empty = 0;
    for (int d = 0; d < v->u.tensor.ndim; d++) {
        int64_t n = v->u.tensor.shape[d], s = v->u.tensor.stride[d], step;
        if (n == 0) empty = 1;
        if (__builtin_mul_overflow(numel, n, &numel) ||
            (n > 0 && (__builtin_mul_overflow(n - 1, s, &step) || __builtin_add_overflow(last, step, &last))))
            return fail(u, WS_ERR_FORMAT, "tensor on storage '%s': shape x stride overflows", st->u.storage.key);
    }
    if (empty ? v->u.tensor.offset > st->u.storage.numel : last >= st->u.storage.numel)
        return fail(u, WS_ERR_FORMAT, "tensor on storage '%s' reaches element %lld but the storage holds %lld",
                    st->u.storage.key, (long long)(empty ? v->u.tensor.offset : last),
                    (long long)st->u.storage.numel);
    v->depth = 1;
    return push(u, v);
}

/* _codecs.encode(text, 'latin1'): how protocol 2 pickles bytes. */
static int codecs_encode(unpickler *u, const pk_value *args) {
    pk_value **a = args->u.seq.items;
    if (args->u.seq.n != 2 || a[0]->kind != PK_STR || a[1]->kind != PK_STR ||
        (strcmp(a[1]->u.str.s, "latin1") && strcmp(a[1]->u.str.s, "latin-1")))
        return fail(u, WS_ERR_FORMAT, "_codecs.encode is only accepted as encode(str, 'latin1')");
    pk_value *v = new_value(u, PK_BYTES);
    if (!v || !(v->u.str.s = malloc(a[0]->u.str.n + 1))) return fail(u, WS_ERR_NOMEM, "out of memory");
    const unsigned char *s = (const unsigned char *)a[0]->u.str.s;
    size_t n = 0;
    for (size_t i = 0; i < a[0]->u.str.n; i++) {
        if (s[i] < 0x80) v->u.str.s[n++] = (char)s[i];
        else if ((s[i] == 0xc2 || s[i] == 0xc3) && i + 1 < a[0]->u.str.n && (s[i + 1] & 0xc0) == 0x80) {
            v->u.str.s[n++] = (char)(((s[i] & 0x03) << 6) | (s[i + 1] & 0x3f));
            i++;
        } else
            return fail(u, WS_ERR_FORMAT, "_codecs.encode: text is not latin-1");
    }
    v->u.str.s[n] = '\0';
    v->u.str.n = n;
    return push(u, v);
}

static int op_reduce(unpickler *u) {
    pk_value *args = NULL, *fn = NULL;
    int rc = pop(u, &args);
    if (rc == WS_OK) rc = pop(u, &fn);
    if (rc != WS_OK) return rc;
    if (fn->kind != PK_GLOBAL) return fail(u, WS_ERR_FORMAT, "REDUCE on a %s, not a callable", kind_name(fn->kind));
    if (args->kind != PK_TUPLE) return fail(u, WS_ERR_FORMAT, "REDUCE arguments are a %s, not a tuple", kind_name(args->kind));
    switch (fn->u.global.id) {
    case G_ORDERED_DICT:
        if (args->u.seq.n != 0) return fail(u, WS_ERR_FORMAT, "OrderedDict is only accepted without arguments");
        return push(u, new_value(u, PK_DICT));
    case G_REBUILD_TENSOR_V2:
        return rebuild_tensor(u, args);
    case G_REBUILD_PARAMETER:
    case G_REBUILD_PARAMETER_STATE: {
        size_t want = fn->u.global.id == G_REBUILD_PARAMETER ? 3 : 4;
        if (args->u.seq.n != want || args->u.seq.items[0]->kind != PK_TENSOR)
            return fail(u, WS_ERR_FORMAT, "_rebuild_parameter needs a tensor and %zu arguments", want);
        return push(u, args->u.seq.items[0]);
    }
    case G_CODECS_ENCODE:
        return codecs_encode(u, args);
    default:
        return fail(u, WS_ERR_FORMAT, "REDUCE on torch.%s: storages are not callable", fn->u.global.storage->name);
    }
}

/* BUILD: the state of an OrderedDict (its attributes, e.g. _metadata) or of a parameter is not
 * needed; anything else is refused. */
static int op_build(unpickler *u) {
    pk_value *state = NULL, *obj = NULL;
    int rc = pop(u, &state);
    if (rc == WS_OK) rc = top(u, &obj);
    if (rc != WS_OK) return rc;
    if (obj->kind != PK_DICT && obj->kind != PK_TENSOR)
        return fail(u, WS_ERR_FORMAT, "BUILD on a %s is not allowed", kind_name(obj->kind));
    return WS_OK;
}

static int op_setitems(unpickler *u, size_t first) {
    if ((u->sp - first) % 2) return fail(u, WS_ERR_FORMAT, "SETITEMS with an odd number of items");
    if (first == 0) return fail(u, WS_ERR_FORMAT, "SETITEMS without a dict");
    pk_value *d = u->stack[first - 1];
    if (d->kind != PK_DICT) return fail(u, WS_ERR_FORMAT, "SETITEMS on a %s", kind_name(d->kind));
    for (size_t i = first; i < u->sp; i += 2) {
        int rc = seq_append(u, d, u->stack[i]);
        if (rc == WS_OK) rc = seq_append(u, d, u->stack[i + 1]);
        if (rc != WS_OK) return rc;
    }
    u->sp = first;
    return WS_OK;
}

static int op_appends(unpickler *u, size_t first) {
    if (first == 0) return fail(u, WS_ERR_FORMAT, "APPENDS without a list");
    pk_value *l = u->stack[first - 1];
    if (l->kind != PK_LIST) return fail(u, WS_ERR_FORMAT, "APPEND on a %s", kind_name(l->kind));
    for (size_t i = first; i < u->sp; i++) {
        int rc = seq_append(u, l, u->stack[i]);
        if (rc != WS_OK) return rc;
    }
    u->sp = first;
    return WS_OK;
}

static int push_mark(unpickler *u) {
    if (u->num_marks >= WS_PK_MAX_DEPTH)
        return fail(u, WS_ERR_LIMIT, "data nested deeper than %d levels (MARKs)", WS_PK_MAX_DEPTH);
    if (u->num_marks == u->marks_cap) {
        size_t cap = u->marks_cap ? 2 * u->marks_cap : 16;
        size_t *grown = realloc(u->marks, cap * sizeof *grown);
        if (!grown) return fail(u, WS_ERR_NOMEM, "out of memory");
        u->marks = grown;
        u->marks_cap = cap;
    }
    u->marks[u->num_marks++] = u->sp;
    return WS_OK;
}

/* Run one opcode; *done is set by STOP. */
static int step(unpickler *u, int *done) {
    u->op_offset = (size_t)(u->p - u->start);
    int rc = need(u, 1);
    if (rc != WS_OK) return fail(u, WS_ERR_FORMAT, "pickle ends without STOP (truncated?)");
    unsigned char op = *u->p++;
    size_t first = 0;
    pk_value *a = NULL, *b = NULL, *c = NULL;
    double f;
    switch (op) {
    case 0x80: /* PROTO */
        if ((rc = need(u, 1)) != WS_OK) return rc;
        if (*u->p > 5) return fail(u, WS_ERR_UNSUPPORTED, "pickle protocol %d", *u->p);
        u->p++;
        return WS_OK;
    case 0x95: /* FRAME: framing is a hint only */
        if ((rc = need(u, 8)) != WS_OK) return rc;
        u->p += 8;
        return WS_OK;
    case '.': /* STOP */
        if ((rc = pop(u, &a)) != WS_OK) return rc;
        u->doc->root = a;
        *done = 1;
        return WS_OK;
    case '(': return push_mark(u);
    case '0': return pop(u, &a);
    case '1': return pop_mark(u, &first) == WS_OK ? (u->sp = first, WS_OK) : WS_ERR_FORMAT;
    case '2': return top(u, &a) == WS_OK ? push(u, a) : WS_ERR_FORMAT;
    case 'N': return push(u, new_value(u, PK_NONE));
    case 0x88: return push_int(u, PK_BOOL, 1);
    case 0x89: return push_int(u, PK_BOOL, 0);
    case 'J':
        if ((rc = need(u, 4)) != WS_OK) return rc;
        u->p += 4;
        return push_int(u, PK_INT, (int32_t)(uint32_t)read_le(u->p - 4, 4));
    case 'K':
        if ((rc = need(u, 1)) != WS_OK) return rc;
        return push_int(u, PK_INT, *u->p++);
    case 'M':
        if ((rc = need(u, 2)) != WS_OK) return rc;
        u->p += 2;
        return push_int(u, PK_INT, (int64_t)read_le(u->p - 2, 2));
    case 0x8a: /* LONG1 */
        if ((rc = need(u, 1)) != WS_OK) return rc;
        return push_long(u, *u->p++);
    case 0x8b: /* LONG4 */
        if ((rc = need(u, 4)) != WS_OK) return rc;
        u->p += 4;
        return push_long(u, read_le(u->p - 4, 4));
    case 'G': { /* BINFLOAT, big-endian */
        if ((rc = need(u, 8)) != WS_OK) return rc;
        uint64_t bits = 0;
        for (int i = 0; i < 8; i++) bits = bits << 8 | u->p[i];
        u->p += 8;
        memcpy(&f, &bits, sizeof f);
        if (!(a = new_value(u, PK_FLOAT))) return fail(u, WS_ERR_NOMEM, "out of memory");
        a->u.f = f;
        return push(u, a);
    }
    case 'X': case 'B': case 'T': /* BINUNICODE, BINBYTES, BINSTRING: 4-byte length */
        if ((rc = need(u, 4)) != WS_OK) return rc;
        u->p += 4;
        return push_string(u, op == 'B' ? PK_BYTES : PK_STR, read_le(u->p - 4, 4));
    case 0x8c: case 'C': case 'U': /* SHORT_BINUNICODE, SHORT_BINBYTES, SHORT_BINSTRING */
        if ((rc = need(u, 1)) != WS_OK) return rc;
        return push_string(u, op == 'C' ? PK_BYTES : PK_STR, *u->p++);
    case 0x8d: case 0x8e: /* BINUNICODE8, BINBYTES8 */
        if ((rc = need(u, 8)) != WS_OK) return rc;
        u->p += 8;
        return push_string(u, op == 0x8e ? PK_BYTES : PK_STR, read_le(u->p - 8, 8));
    case ')': return push(u, new_value(u, PK_TUPLE));
    case ']': return push(u, new_value(u, PK_LIST));
    case '}': return push(u, new_value(u, PK_DICT));
    case 't': return pop_mark(u, &first) == WS_OK ? build_seq(u, PK_TUPLE, first) : WS_ERR_FORMAT;
    case 'l': return pop_mark(u, &first) == WS_OK ? build_seq(u, PK_LIST, first) : WS_ERR_FORMAT;
    case 'd': return pop_mark(u, &first) == WS_OK ? build_seq(u, PK_DICT, first) : WS_ERR_FORMAT;
    case 0x85: case 0x86: case 0x87: { /* TUPLE1..3 */
        size_t n = (size_t)(op - 0x84), floor = u->num_marks ? u->marks[u->num_marks - 1] : 0;
        if (u->sp - floor < n) return fail(u, WS_ERR_FORMAT, "stack underflow");
        return build_seq(u, PK_TUPLE, u->sp - n);
    }
    case 'a':
        if ((rc = pop(u, &a)) != WS_OK || (rc = top(u, &b)) != WS_OK) return rc;
        if (b->kind != PK_LIST) return fail(u, WS_ERR_FORMAT, "APPEND on a %s", kind_name(b->kind));
        return seq_append(u, b, a);
    case 'e': return pop_mark(u, &first) == WS_OK ? op_appends(u, first) : WS_ERR_FORMAT;
    case 's':
        if ((rc = pop(u, &a)) != WS_OK || (rc = pop(u, &b)) != WS_OK || (rc = top(u, &c)) != WS_OK) return rc;
        if (c->kind != PK_DICT) return fail(u, WS_ERR_FORMAT, "SETITEM on a %s", kind_name(c->kind));
        if ((rc = push(u, b)) != WS_OK || (rc = push(u, a)) != WS_OK) return rc;
        return op_setitems(u, u->sp - 2);
    case 'u': return pop_mark(u, &first) == WS_OK ? op_setitems(u, first) : WS_ERR_FORMAT;
    case 'q':
        if ((rc = need(u, 1)) != WS_OK) return rc;
        return memo_put(u, *u->p++);
    case 'r':
        if ((rc = need(u, 4)) != WS_OK) return rc;
        u->p += 4;
        return memo_put(u, read_le(u->p - 4, 4));
    case 0x94: return memo_put(u, u->memo_count);   /* MEMOIZE */
    case 'h':
        if ((rc = need(u, 1)) != WS_OK) return rc;
        return memo_get(u, *u->p++);
    case 'j':
        if ((rc = need(u, 4)) != WS_OK) return rc;
        u->p += 4;
        return memo_get(u, read_le(u->p - 4, 4));
    case 'c': return op_global(u);
    case 0x93: return op_stack_global(u);
    case 'R': return op_reduce(u);
    case 'b': return op_build(u);
    case 'Q': return op_persid(u);
    default:
        return fail(u, WS_ERR_UNSUPPORTED, "opcode 0x%02x is not accepted in a checkpoint", op);
    }
}

int pk_parse_prefix(const void *data, size_t len, const char *label, pk_doc *out, size_t *used) {
    memset(out, 0, sizeof *out);
    unpickler u = {.start = data, .p = data, .end = (const unsigned char *)data + len, .label = label, .doc = out};
    int rc = WS_OK, done = 0;
    while (rc == WS_OK && !done) rc = step(&u, &done);
    free(u.stack);
    free(u.marks);
    free(u.memo);
    if (rc != WS_OK) pk_free(out);
    if (used) *used = rc == WS_OK ? (size_t)(u.p - u.start) : 0;
    return rc;
}

int pk_parse(const void *data, size_t len, const char *label, pk_doc *out) {
    return pk_parse_prefix(data, len, label, out, NULL);
}

void pk_free(pk_doc *d) {
    for (pk_value *v = d->values, *next; v; v = next) {
        next = v->next_alloc;
        if (v->kind == PK_STR || v->kind == PK_BYTES) free(v->u.str.s);
        if (v->kind == PK_TUPLE || v->kind == PK_LIST || v->kind == PK_DICT) free(v->u.seq.items);
        free(v);
    }
    memset(d, 0, sizeof *d);
}

const pk_value *pk_dict_get(const pk_value *d, const char *key) {
    if (!d || d->kind != PK_DICT) return NULL;
    for (size_t i = pk_dict_size(d); i-- > 0;) {
        const pk_value *k = pk_dict_key(d, i);
        if (k->kind == PK_STR && !strcmp(k->u.str.s, key)) return pk_dict_value(d, i);
    }
    return NULL;
}
