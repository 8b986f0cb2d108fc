/* `webssl-dist embed`: its flag table, then the embed engine (driver/embed.h); turns the outcome
 * into the exit status: WS_EXIT_OK, WS_EXIT_USAGE (bad flag or setup error, printed once by world
 * rank 0), WS_EXIT_FAILED_SHARDS, WS_EXIT_INTERRUPTED. */
#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/image_flags.h"
#include "comm/launch_env.h"
#include "comm/topology.h"
#include "common/error.h"
#include "common/log.h"
#include "driver/embed.h"
#include "webssl.h"

#include <mpi.h>
#include <stddef.h>
#include <stdio.h>

#define O(field) offsetof(embed_options, field)

static const flag_choice devices[] = {{"cpu", 0}, {"cuda", 0}, {NULL, 0}};
static const flag_choice modes[] = {{"crop", WS_PREPROCESS_CROP}, {"square", WS_PREPROCESS_SQUARE}, {NULL, 0}};
static const flag_choice posembeds[] = {
    {"original", WS_POSEMBED_ORIGINAL}, {"hf", WS_POSEMBED_HF}, {"hf-antialias", WS_POSEMBED_HF_ANTIALIAS}, {NULL, 0}};

static const flag_spec flags[] = {
    FLAG("--model", "PATH", FLAG_STRING, O(model), "HF model directory, .safetensors or .pth", .attrs = FLAG_REQUIRED),
    FLAG("--arch", "NAME|FILE.yaml", FLAG_STRING, O(arch), "architecture [from config.json or the tensor shapes]"),
    FLAG("--input", "SPEC", FLAG_STRING, O(input), "'shards/{00000..00099}.tar', a glob, a directory, @list.txt,\n"
     "'https://host/shard-{0000..0099}.tar' or 'pipe:CMD'", .attrs = FLAG_REQUIRED | FLAG_ONCE),
    FLAG("--output", "DIR", FLAG_STRING, O(output), "one HDF5 file per input shard; rerun to resume", .attrs = FLAG_REQUIRED),
    FLAG("--overwrite", NULL, FLAG_SWITCH, O(overwrite), "accept inputs other than those DIR/run.json recorded: shards\n"
     "whose names collide are redone from the new inputs"),
    FLAG("--tp", "N|auto", FLAG_INT_AUTO, O(tp), "tensor-parallel ranks per group (divides the world size);\n"
     "auto: the smallest that fits the memory of a rank"),
    FLAG("--batch", "B", FLAG_INT, O(batch), "images per forward pass"),
    FLAG("--device", NULL, FLAG_WORD, O(device), "compute device", .choices = devices),
    FLAG("--dtype", NULL, FLAG_DTYPE, O(dtype), "compute dtype", .words = "fp32|bf16"),
    FLAG("--allreduce", NULL, FLAG_DTYPE, O(allreduce), "dtype of the --tp all-reduces: bf16 halves their traffic",
     .words = "fp32|bf16"),
    FLAG("--features", "LIST", FLAG_FEATURES, O(features), "any of cls,patch_mean,patch,head,proto;\n"
     "head, proto: DINO head bottleneck / best prototype"),
    FLAG("--head", "FILE", FLAG_STRING, O(head), "checkpoint holding the DINO head [the --model file]"),
    FLAG("--out-dtype", NULL, FLAG_DTYPE, O(out_dtype), "stored feature type", .words = "fp16|fp32"),
    FLAG("--preprocess", NULL, FLAG_CHOICE, O(preprocess), "resize+center-crop or square resize [the model's]",
     .choices = modes),
    FLAG("--resize", "S", FLAG_INT, O(resize), "crop mode: shorter side resized to S [the model's]"),
    FLAG("--resolution", "R", FLAG_INT, O(resolution), "model input side, a multiple of the patch size [the model's]"),
    FLAG("--posembed", NULL, FLAG_CHOICE, O(posembed), "position-embedding interpolation at other\n"
     "resolutions [original for .pth checkpoints, hf-antialias for HF\n"
     "ones with register tokens (Dinov2WithRegisters), hf otherwise]", .choices = posembeds),
    FLAG("--shard-size", "N", FLAG_INT, O(shard_size), "images per shard for directories and lists"),
    FLAG("--max-pixels", "N", FLAG_LONG, O(max_pixels), "refuse images with more pixels [89478485, as Pillow]"),
    FLAG("--exif-transpose", NULL, FLAG_SWITCH, O(exif_transpose), "apply the EXIF orientation (ignored by default, as Pillow)"),
    IMAGE_READ_FLAGS(O),
    FLAG("--threads", "T", FLAG_INT, O(threads), "compute threads per rank [OpenMP default]"),
    FLAG("--decode-threads", "D", FLAG_INT, O(decode_threads), "image decoding threads per shard being read"),
    FLAG("--read-ahead", "N", FLAG_INT, O(read_ahead), "shards read at once per TP group; batches come from whichever\n"
     "has one ready, so a slow source does not stall the others"),
    FLAG("--stats", "FILE", FLAG_STRING, O(stats), "per-rank timing as JSON lines"),
    FLAG(NULL, NULL, FLAG_SECTION, 0, "streamed shards (http://, https://, pipe:CMD):"),
    FLAG("--retries", "N", FLAG_INT, O(stream.retries), "retries of a failed transfer or command per shard"),
    FLAG("--retry-wait", "S", FLAG_SECONDS, O(stream.retry_wait), "seconds before the first retry, doubled for each next one"),
    FLAG("--io-timeout", "S", FLAG_SECONDS, O(stream.timeout), "seconds to connect, or without a byte, before a retry"),
    FLAG("--max-shard-bytes", "N", FLAG_BYTES, O(stream.max_bytes), "largest shard body (suffix k, M, G, T: powers of 1024)"),
    FLAG("--min-rate", "N", FLAG_BYTES, O(stream.min_rate), "bytes/s under which an HTTP transfer is ended (measured over\n"
     "--io-timeout seconds of waiting for data) and retried (suffix k, M, G)"),
};

static const flag_table table = FLAG_TABLE("embed",
    "exit status: 0 done, 1 usage/setup error, 2 some shards failed, 3 interrupted (rerun to resume)\n", flags);

int cmd_embed(int argc, char **argv) {
    if (launch_env_check_pre_mpi() != WS_OK || topology_mpi_init(&argc, &argv) != WS_OK) {
        fprintf(stderr, "webssl-dist embed: %s\n", ws_error_message());
        return WS_EXIT_USAGE;
    }
    int world_rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    embed_options opt;
    embed_options_default(&opt);
    int code = flags_parse_or_exit(&table, argc, argv, &opt, sizeof opt, world_rank == 0);
    if (code < 0) {
        int rc = embed_options_check(&opt);
        if (rc == WS_OK) rc = embed_main(&opt);
        if (rc < 0 && world_rank == 0) LOG_ERROR("embed: %s", ws_error_message());
        code = rc == EMBED_DONE            ? WS_EXIT_OK
               : rc == EMBED_FAILED_SHARDS ? WS_EXIT_FAILED_SHARDS
               : rc == EMBED_INTERRUPTED   ? WS_EXIT_INTERRUPTED
                                           : WS_EXIT_USAGE;
    }
    topology_mpi_finalize();
    return code;
}
