/* webssl-dist entry point: dispatches to the subcommand named by argv[1]. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "backend/backend.h"
#include "cli/commands.h"

static const ws_command commands[] = {
    {"models", cmd_models, "list the built-in architectures"},
    {"inspect", cmd_inspect, "tensors, shapes, dtypes of a checkpoint; the architecture it matches"},
    {"cost", cmd_cost, "FLOPs, memory, communication and expected throughput per tp (cost model)"},
    {"embed", cmd_embed, "embed images with tensor x data parallelism (mpirun/srun); resumable"},
    {"index", cmd_index, "DIR/index.h5: one virtual table over every shard file"},
    {"export", cmd_export, "one consolidated, chunked, compressed HDF5 file from DIR's shards"},
    {"verify", cmd_verify, "check every byte of every shard file of DIR against its checksum"},
    {"bench", cmd_bench, "forward-pass throughput of an architecture with random weights"},
    {"preprocess", cmd_preprocess, "the exact model inputs (uint8 images, normalised tensors) to HDF5"},
    {"cluster", cmd_cluster, "k-means over embedding shards (flat or hierarchical, MPI, resumable)"},
    {"dedup", cmd_dedup, "SemDeDup near-duplicates within the clusters (MPI)"},
    {"sample", cmd_sample, "hierarchical balanced sampling from the cluster tree"},
    {"convert", cmd_convert, "original / teacher .pth (or any checkpoint) to a HuggingFace model directory"},
};
static const size_t num_commands = sizeof commands / sizeof commands[0];

static void print_usage(FILE *f) {
    fprintf(f, "usage: webssl-dist <command> [options]   (webssl-dist <command> --help)\n\ncommands:\n");
    for (size_t i = 0; i < num_commands; i++)
        fprintf(f, "  %-11s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv) {
    backend_cpu_blas_fix(argv);   /* may execute the program again, before anything has run */
    /* A closed stdout/stderr pipe (a log reader gone) must not kill a long run: writes to it
     * fail with EPIPE instead and the work goes on. */
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        print_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? WS_EXIT_USAGE : WS_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("webssl-dist %s\n", WEBSSL_VERSION);
        return WS_EXIT_OK;
    }
    for (size_t i = 0; i < num_commands; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "webssl-dist: unknown command '%s'\n", argv[1]);
    print_usage(stderr);
    return WS_EXIT_USAGE;
}
