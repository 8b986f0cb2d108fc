/* The output directory of an embed run: creation and write check, the job lock, the stored
 * run configuration, shard file names, and the cleanup of temporary files left by crashes.
 *
 *   DIR/<shard>.h5                   finished shard (complete attribute = 1)
 *   DIR/.<shard>.h5.tmp.<job>.<rank> shard being written (never looks complete)
 *   DIR/run.json                     the run configuration (model, arch, features, dtypes,
 *                                    resolution, preprocessing, shard size)
 *   DIR/shards.txt                   the names of the latest run's input shards, one a line
 *                                    (what `webssl-dist index` expects to find)
 *   DIR/.lock                        flock'ed by world rank 0 for the whole run
 *   DIR/index.h5                     written by `webssl-dist index` (a shard may not be named so)
 *
 * A later run into the same DIR must have the same configuration (so a requeued job resumes
 * with the same settings); a different one is refused with the differing field named.
 *
 * A shared DIR may hold symbolic links planted by someone else: this program never opens a file
 * of DIR through one (O_NOFOLLOW; new files O_CREAT | O_EXCL; HDF5 files through checked
 * descriptors, io/h5_file.h), and a run refuses to start while one sits at a name it uses. */
#ifndef WEBSSL_IO_RUN_DIR_H
#define WEBSSL_IO_RUN_DIR_H

#include <stddef.h>

/* Create DIR (and parents) when missing and check that a file can be created in it.
 * WS_OK or WS_ERR_IO naming the directory. */
int run_dir_prepare(const char *dir);

/* WS_OK, or WS_ERR_IO naming every symbolic link in DIR at a name this program opens or creates
 * (.lock, run.json, *.h5, temporary files) with its target. */
int run_dir_check_links(const char *dir);

/* Take the exclusive lock DIR/.lock without waiting. On success *fd holds the lock until
 * run_dir_unlock. When another process holds it: WS_ERR_IO saying so, with the holder's
 * "host pid" recorded in the file. flock is per open file: it covers jobs on one host and
 * on file systems whose flock is cluster-wide (Lustre, GPFS, NFSv4 with locking). */
int run_dir_lock(const char *dir, int *fd);
void run_dir_unlock(int fd);

/* Compare `config_json` (a JSON object, unformatted) with DIR/run.json: when absent, write it
 * (temporary file + rename); when present and equal field by field, WS_OK; when different,
 * WS_ERR_ARG naming the first differing field with both values (inside an object field, the
 * inner field: "weights.model.safetensors"). Every field either side records is compared: one
 * that only run.json holds is a difference too. `defaults_json` (a JSON object, or NULL) gives
 * the value a field stands for where a run.json lacks it (one written by an older version), on
 * both sides before the comparison. The field named `inputs` (the run's inputs) may
 * differ only with `overwrite`: then run.json is rewritten with the new value (logged); without,
 * WS_ERR_ARG naming both values and --overwrite. An earlier run.json without that field (an
 * older version) gets it. run.json that is not a regular file, or a link: WS_ERR_IO. */
int run_dir_check_config(const char *dir, const char *config_json, const char *defaults_json, const char *inputs,
                         int overwrite);

/* Remove the temporary shard files (".<shard>.h5.tmp.<job>.<rank>") and index files
 * (".index.h5.tmp.<pid>") left by crashed runs, and no other file. Call only while holding the lock. Returns the number removed, or WS_ERR_IO when
 * the directory cannot be read. */
int run_dir_clean_temps(const char *dir);

/* Write DIR/shards.txt: the n shard names, one a line (temporary file + rename). WS_OK, or
 * WS_ERR_IO / WS_ERR_NOSPACE naming the file. */
int run_dir_write_shard_list(const char *dir, const char *const *names, size_t n);
/* Read DIR/shards.txt into *names (n strings, each and the array to be freed by the caller).
 * WS_OK with *names NULL and *n 0 when the file is absent (a directory from before the list
 * existed); WS_ERR_IO naming the file when it cannot be read. */
int run_dir_read_shard_list(const char *dir, char ***names, size_t *n);
/* The file names of a run directory that are not shard files and no shard may have: ".lock",
 * "run.json", "shards.txt" and the index's. */
int run_dir_is_run_file(const char *name);

/* The base name of the index file (io/h5_index.h); no shard may have it. */
#define RUN_DIR_INDEX_NAME "index"

/* 1 when the file name `name` (no directory) is a shard file's: "*.h5" but the index's. */
int run_dir_is_shard_file(const char *name);

/* DIR/<name>.h5 and DIR/.<name>.h5.tmp.<tag> into buf. WS_OK, or WS_ERR_ARG when too long or,
 * for the shard path, when the name is the index's. */
int run_dir_shard_path(const char *dir, const char *name, char *buf, size_t len);
int run_dir_tmp_path(const char *dir, const char *name, const char *tag, char *buf, size_t len);

#endif
