/* WebDataset tar reading behind shard_reader.h (internal to src/data). */
#ifndef WEBSSL_DATA_TAR_READER_H
#define WEBSSL_DATA_TAR_READER_H

#include "data/shard_reader.h"
#include "data/stream.h"

typedef struct tar_reader tar_reader;

/* image_exts: the extension list the image is taken from (wds_name.h; NULL: the default). */
int tar_reader_open(const char *path, const char *image_exts, tar_reader **out);
/* The same over a streamed shard (borrowed; must outlive the reader): nothing is read before the
 * first tar_reader_next (so opening never waits on the source); a failure of the stream after
 * its retries is damage, with the stream's reason. */
int tar_reader_open_stream(ws_stream *s, const char *image_exts, tar_reader **out);
/* The same over a tar held in memory (borrowed; must outlive the reader). */
int tar_reader_open_memory(const void *data, size_t size, const char *image_exts, tar_reader **out);
/* Same contract as shard_reader_next; `damage` receives a reason when the tar is damaged. */
int tar_reader_next(tar_reader *t, ws_sample *s, const char *shard);
int tar_reader_damaged(const tar_reader *t, const char **why);
void tar_reader_close(tar_reader *t);

#endif
