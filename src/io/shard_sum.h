/* The checksum of a whole shard file, kept in the file itself: the first SHARD_SUM_BLOCK bytes of
 * a shard file are its HDF5 user block (H5Pset_userblock: bytes HDF5 reserves for the user and
 * never reads; the HDF5 file begins after them), holding, as text padded with zero bytes:
 *
 *   webssl-dist shard checksum 1
 *   sha256 <64 hex digits>
 *   size <file size in bytes>
 *
 * The SHA-256 covers every byte after the block, so every byte of the file is checked: the
 * datasets, HDF5's own metadata (superblock, object headers, B-trees, heaps: HDF5 checksums only
 * some of it), the attributes (variable-length strings live in an unchecksummed global heap),
 * free space, and the block itself (its text must parse and its padding be zero). A truncated or
 * extended file fails on the size. The writer seals the file after HDF5 closed it and before it
 * is renamed to its final name; it is checked before HDF5 parses it (so HDF5 never reads a
 * damaged file of ours).
 *
 * Every dataset but the keys also carries HDF5's fletcher32 filter (h5_writer.c), which HDF5 checks on every
 * read of a chunk: a reader that never looks at the user block (h5py, the index's virtual
 * datasets) still gets an error, not wrong numbers, from a chunk damaged later. */
#ifndef WEBSSL_IO_SHARD_SUM_H
#define WEBSSL_IO_SHARD_SUM_H

#include <stddef.h>

#define SHARD_SUM_BLOCK 512   /* HDF5's smallest user block */

/* Compute the checksum of the closed HDF5 file open read-write on `fd` (created with a user block
 * of SHARD_SUM_BLOCK bytes) and write it into the block, then fsync. WS_OK or WS_ERR_IO naming
 * `path`. */
int shard_sum_seal(int fd, const char *path);

typedef enum {
    SHARD_OK,          /* every byte as written */
    SHARD_ABSENT,      /* no file under the name */
    SHARD_LINK,        /* a symbolic link: not followed, not checked */
    SHARD_IRREGULAR,   /* a FIFO, directory, device... */
    SHARD_IN_USE,      /* another process has it open for writing (h5_file.h) */
    SHARD_UNREADABLE,  /* open or read failed (permission, I/O error) */
    SHARD_NO_SUM,      /* no checksum block: not a shard file of this version (a user's file, one
                        * written by an older version), or its first bytes overwritten */
    SHARD_CORRUPT,     /* a checksum block, but the file's bytes or size differ from it */
} shard_state;

/* Check the file `path` of an output directory: opened without following a link, in use or not,
 * then every byte read against its checksum. The state, with the reason in why (for every state
 * but SHARD_OK and SHARD_ABSENT), e.g. "checksum mismatch: the file changed since it was
 * written" or "truncated: 10240 bytes, 21504 written". */
shard_state shard_sum_check(const char *path, char *why, size_t len);
/* A short name of a state for messages ("corrupt", "in use"...). */
const char *shard_state_name(shard_state s);

#endif
