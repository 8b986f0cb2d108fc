/* Input specifications (--input) expanded into a list of shards, before any work starts.
 *   'data/{00000..00999}.tar'  brace ranges (zero padding kept from the first bound) and
 *   'data/{a,b}/x.tar'         comma lists, several braces per spec, then
 *   'data/train-??.tar'        glob patterns (* ? [..], sorted) -> one TAR shard per file
 *   'images/'                  a directory, walked recursively (symlinks followed, each
 *                              directory once), files with an image extension
 *                              (jpg jpeg png webp gif bmp, any case) sorted by relative path,
 *                              split into FILES shards of `shard_size` images
 *   '@list.txt'                one image path per line (blank lines and '#' lines skipped), in
 *                              file order, split likewise (the list must be a regular file); a list whose every line is a tar shard
 *                              (a .tar/.tar.gz/.tgz path, a URL or pipe:CMD) lists shards instead
 *   'https://h/d/{0000..0099}.tar', 'pipe:CMD'   streamed shards (data/stream_source.h): brace
 *                              ranges and lists are expanded (inside CMD too), nothing else
 * Every shard has a stable name, the base name of its output file:
 *   TAR:   the tar's base name without .tar / .tar.gz / .tgz ("data/00042.tar" -> "00042");
 *   STREAM: the URL's or the command's last path element (data/stream_source.h);
 *   FILES: "<dir or list base name>-<index %05d>" ("images/" -> "images-00000", "images-00001";
 *          "@lists/train.txt" -> "train-00000"), index = first image / shard_size.
 * The names depend only on the spec, the files present and shard_size. A pattern that matches
 * nothing, a missing brace-expanded file, or two shards with the same name is an error. */
#ifndef WEBSSL_DATA_INPUT_SPEC_H
#define WEBSSL_DATA_INPUT_SPEC_H

#include <stddef.h>

typedef enum { WS_SHARD_TAR = 0, WS_SHARD_FILES, WS_SHARD_STREAM } ws_shard_kind;

typedef struct {
    char *name;          /* stable output name (no extension, no directory) */
    ws_shard_kind kind;
    char *path;          /* TAR: the tar file; FILES: the directory or the list file; STREAM: the
                          * URL or pipe:CMD, credentials included: never print it */
    char *display;       /* path as it may be shown (logs, HDF5 attributes, manifests): local paths
                          * canonical (input_spec_canonical), URLs and commands without credentials */
    char **files;        /* FILES: image paths to open, in order; NULL for TAR */
    char **keys;         /* FILES: key of each image (path relative to the directory, or the list
                          * line as written); NULL for TAR */
    size_t nfiles;
    int from_dir;        /* FILES: 1 when the files were found by walking a directory (each one
                          * existed then), 0 for a list */
} ws_shard;

typedef struct {
    ws_shard *shards;
    size_t count;
} ws_shard_list;

/* Default images per FILES shard. */
#define WS_DEFAULT_SHARD_SIZE 10000

/* Expand `spec` into `out` (zeroed first). shard_size > 0 splits directories and lists.
 * Returns WS_OK, or WS_ERR_ARG (matches nothing, missing file, name collision, bad brace range)
 * / WS_ERR_IO (unreadable list or directory) with a message naming the spec or path. */
int input_spec_expand(const char *spec, size_t shard_size, ws_shard_list *out);
void shard_list_free(ws_shard_list *list);

/* The spec in a canonical form, so that one input set spelled differently ('data/', './data/', an
 * absolute path, a path through a symbolic link) has one form: the directory part of a local
 * path or pattern, before its first pattern character, resolved (realpath), the rest as
 * written; a directory resolved whole; '@' + the list file's; URLs and pipe: commands as
 * written, credentials removed (stream_source_redact). Malloc'ed; NULL when out of memory. */
char *input_spec_canonical(const char *spec);
const char *shard_kind_name(ws_shard_kind kind);

#endif
