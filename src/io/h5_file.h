/* HDF5 files of an output directory, opened through descriptors this program checked.
 *
 * HDF5 opens files by name, and in a shared output directory a name can be a symbolic link that
 * someone planted, pointing at a file of the user's: H5Fcreate(name, H5F_ACC_TRUNC) would
 * truncate the link's target, and even H5F_ACC_EXCL first opens an existing name read-write to
 * see whether it is open already. So this program opens the file itself, with O_NOFOLLOW (and
 * O_CREAT | O_EXCL for a new file, which never follows a link nor reuses an existing file),
 * checks that it is a regular file, and gives HDF5 the name "/proc/self/fd/<fd>": that name
 * refers to the open file itself, not to a path looked up again in the directory, so HDF5 opens
 * exactly the file that was checked, whatever is renamed or planted in the directory meanwhile.
 * (Linux; /proc is mounted on every system this program runs on.)
 *
 * "In use": HDF5 takes flock(2) on the files it opens (shared to read, exclusive to write), and
 * Linux refuses a read lease (F_SETLEASE) on a file another process of the same user has open
 * for writing; either one is a file another process is writing, which must be neither read as
 * finished, nor moved, nor removed. */
#ifndef WEBSSL_IO_H5_FILE_H
#define WEBSSL_IO_H5_FILE_H

#include <hdf5.h>

/* Create the new file `path` (O_CREAT | O_EXCL | O_NOFOLLOW, mode 0644) and open it with
 * H5Fcreate(fcpl, fapl). On success *file is the HDF5 file and *fd the descriptor, kept open
 * read-write for the caller (to seal, fsync and close it after H5Fclose). WS_OK, or WS_ERR_IO
 * naming the file ("a symbolic link (not followed)", "File exists", HDF5's message). */
int h5_file_create(const char *path, hid_t fcpl, hid_t fapl, hid_t *file, int *fd);

/* Open the existing regular file `path` read-only without following a link (see above) into
 * *file. WS_OK, or WS_ERR_IO (cannot be opened: missing, a link, not a regular file; the
 * message says which) or WS_ERR_FORMAT (not readable as HDF5). */
int h5_file_open(const char *path, hid_t *file);
/* The same for a descriptor already opened and checked (e.g. by ws_open_no_link). */
int h5_file_open_fd(int fd, const char *path, hid_t *file);

/* 1 when another process holds the file of `fd` (a read-only descriptor) open for writing, as
 * far as can be told (HDF5's exclusive lock; on Linux also any writer of the same user); else 0. */
int h5_file_in_use(int fd);

#endif
