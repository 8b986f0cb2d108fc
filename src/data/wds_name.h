/* WebDataset's naming rule for tar members, and the list of extensions a sample's image is taken
 * from. A member "dir/x.depth.png" belongs to the sample with key "dir/x" under the extension
 * "depth.png": everything after the first dot of the base name (webdataset's base_plus_ext,
 * regular expression ^((?:.*\/|)[^.]+)[.]([^/]*)$, with its corner cases). The image of a sample is
 * the member whose extension comes first in the list (like webdataset's to_tuple("jpg;png")),
 * compared without case (webdataset lower-cases extensions). */
#ifndef WEBSSL_DATA_WDS_NAME_H
#define WEBSSL_DATA_WDS_NAME_H

#include <stddef.h>

/* The default image extension list (--image-ext), in order of preference. */
#define WDS_IMAGE_EXTS_DEFAULT "jpg;jpeg;png;webp;bmp;gif"

/* Split member path `path`: 1 with the key's length in *key_len (the key is path[0, *key_len)) and
 * *ext pointing at the extension inside path; 0 when webdataset skips the member (no dot in the
 * base name, or a metadata name "__x__" / "__x__/..."). */
int wds_split_name(const char *path, size_t *key_len, const char **ext);

/* Position of `ext` in the ';'-separated `list` (case-insensitive), or -1. */
int wds_ext_rank(const char *list, const char *ext);

/* WS_OK when `list` is a usable extension list (non-empty items without '/' or spaces, at most
 * 255 characters); WS_ERR_ARG naming the list otherwise. */
int wds_ext_list_check(const char *list);

#endif
