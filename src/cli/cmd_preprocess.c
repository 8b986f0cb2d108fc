/* `webssl-dist preprocess`: its flag table, then the preprocess engine (driver/preprocess.h),
 * which writes the exact model inputs of every image to one HDF5 file. */
#include <stddef.h>
#include <stdio.h>

#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/image_flags.h"
#include "common/arch.h"
#include "common/error.h"
#include "driver/embed.h"
#include "driver/preprocess.h"

#define O(field) offsetof(preprocess_options, field)

static const flag_choice modes[] = {{"crop", WS_PREPROCESS_CROP}, {"square", WS_PREPROCESS_SQUARE}, {NULL, 0}};

static const flag_spec flags[] = {
    FLAG("--input", "SPEC", FLAG_STRING, O(input), "tar shards, a glob, a directory or @list.txt (as embed)",
     .attrs = FLAG_REQUIRED | FLAG_ONCE),
    FLAG("--output", "FILE.h5", FLAG_STRING, O(output), "the HDF5 file, written under FILE.h5.tmp first", .attrs = FLAG_REQUIRED),
    FLAG("--arch", "NAME|FILE.yaml", FLAG_STRING, O(arch), "its preprocessing [ImageNet crop 256 -> 224]"),
    FLAG("--preprocess", NULL, FLAG_CHOICE, O(preprocess), "resize+center-crop or square resize [the architecture's]",
     .choices = modes),
    FLAG("--resize", "S", FLAG_INT, O(resize), "crop mode: shorter side resized to S [the architecture's]"),
    FLAG("--resolution", "R", FLAG_INT, O(resolution), "model input side [the architecture's]"),
    FLAG("--shard-size", "N", FLAG_INT, O(shard_size), "images per shard for directories and lists"),
    FLAG("--decode-threads", "D", FLAG_INT, O(decode_threads), "image decoding threads"),
    FLAG("--batch", "B", FLAG_INT, O(batch), "images per batch of the pipeline"),
    FLAG("--max-pixels", "N", FLAG_LONG, O(max_pixels), "refuse images with more pixels (0: no limit)"),
    FLAG("--exif-transpose", NULL, FLAG_SWITCH, O(exif_transpose), "apply the EXIF orientation (ignored by default, as Pillow)"),
    IMAGE_READ_FLAGS(O),
};

static const flag_table table = FLAG_TABLE("preprocess",
    "exit status: 0 done, 1 usage/setup error, 2 some shards damaged, 3 interrupted\n", flags);

int cmd_preprocess(int argc, char **argv) {
    preprocess_options o;
    preprocess_options_default(&o);
    int code = flags_parse_or_exit(&table, argc, argv, &o, sizeof o, 1);
    if (code >= 0) return code;
    preprocess_result res;
    int rc = preprocess_main(&o, &res);
    if (rc < 0) {
        fprintf(stderr, "webssl-dist preprocess: %s\n", ws_error_message());
        return WS_EXIT_USAGE;
    }
    if (rc == EMBED_INTERRUPTED) return WS_EXIT_INTERRUPTED;
    printf("%s: %zu images, %zu failed%s%s\n", o.output, res.images, res.failures,
           *res.damaged ? ", damaged shards: " : "", res.damaged);
    return rc == EMBED_FAILED_SHARDS ? WS_EXIT_FAILED_SHARDS : WS_EXIT_OK;
}
