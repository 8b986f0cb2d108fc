/* Read-only view of a zip archive held in memory (a memory-mapped .pth file): the list of its
 * stored (uncompressed) entries with the byte ranges of their data inside the archive, so that
 * tensor storages are used in place without a copy. Handles zip64 records as torch.save writes
 * them for archives and entries past 4 GiB. Every offset and length is checked against the
 * archive: entries that overlap each other or the central directory, point past the end, or sit
 * behind a truncated or inconsistent header are errors, never reads out of bounds.
 *
 * Hand-written rather than libarchive/libzip on purpose: those libraries stream entry contents
 * through their own buffers; the checkpoint loader needs the offset of each stored entry inside
 * the mapping so that multi-GiB storages are never copied. */
#ifndef WEBSSL_LOADERS_ZIP_H
#define WEBSSL_LOADERS_ZIP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *name;          /* entry name as stored (NUL-terminated copy) */
    uint64_t offset;     /* offset of the entry's data from the start of the archive */
    uint64_t size;       /* data length in bytes (stored entries: compressed == uncompressed) */
    uint64_t header;     /* offset of the local file header */
} ws_zip_entry;

typedef struct {
    const unsigned char *data;   /* the archive; not owned */
    size_t len;
    ws_zip_entry *entries;       /* in central-directory order */
    size_t num_entries;
} ws_zip;

/* Limit on the number of entries (a checkpoint has one per storage plus a few). */
#define WS_ZIP_MAX_ENTRIES (1u << 20)

/* Parse the archive `data[0, len)`. `label` names it in error messages (the file path). Refuses
 * compressed or encrypted entries, multi-disk archives, overlapping or out-of-range entries.
 * Returns WS_OK or a negative ws_err code with a message; on failure `z` needs no zip_close. */
int zip_open_mem(const void *data, size_t len, const char *label, ws_zip *z);
void zip_close(ws_zip *z);

/* The entry with exactly this name, or NULL. */
const ws_zip_entry *zip_find(const ws_zip *z, const char *name);
/* Pointer to the entry's data inside the archive. */
static inline const void *zip_entry_data(const ws_zip *z, const ws_zip_entry *e) {
    return z->data + e->offset;
}

#endif
