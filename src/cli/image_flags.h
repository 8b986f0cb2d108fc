/* The flags of how image samples are read, shared by the commands that read image shards (embed,
 * preprocess): one definition of their names, help and choices. IMAGE_READ_FLAGS(O) expands to
 * their flag-table lines, O(field) being the command's offsetof macro; the command's options
 * need the fields fast_decode (int) and image_exts (const char *). */
#ifndef WEBSSL_CLI_IMAGE_FLAGS_H
#define WEBSSL_CLI_IMAGE_FLAGS_H

#include "cli/flags.h"
#include "data/wds_name.h"

static const flag_choice image_flag_decodes[] = {{"exact", 0}, {"fast", 1}, {NULL, 0}};

#define IMAGE_READ_FLAGS(O)                                                                            \
    FLAG("--decode", "exact|fast", FLAG_CHOICE, O(fast_decode), "fast: a JPEG at least twice the size " \
         "the resize needs\nis decoded at 1/2, 1/4 or 1/8 scale in the DCT domain (faster, not "        \
         "pixel-exact)", .choices = image_flag_decodes),                                                \
    FLAG("--fast-decode", NULL, FLAG_SWITCH, O(fast_decode), "the same as --decode fast"),             \
    FLAG("--image-ext", "LIST", FLAG_STRING, O(image_exts), "tar samples: the image is the member "    \
         "with the first of these\nextensions (everything after the first dot of its name) ["         \
         WDS_IMAGE_EXTS_DEFAULT "]")

#endif
