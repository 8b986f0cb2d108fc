/* Test driver for the parity scripts: runs webssl.h's forward on raw float32 pixels and writes the
 * features as raw float32 files, so a Python script can compare them with transformers / PyTorch.
 *
 *   model_forward (--model PATH | --random ARCH --seed S) --pixels FILE --batch B --resolution R
 *                 --out PREFIX [--dtype fp32|bf16] [--posembed hf|original|hf-antialias] [--tp N] [--arch A]
 *                 [--device cpu|cuda]
 *
 * Writes PREFIX.cls [B,C], PREFIX.patch_mean [B,C], PREFIX.patch [B,g*g,C]. With --tp N the model
 * is loaded N times as ranks 0..N-1 of an in-process communicator (one thread per rank, sums
 * through shared memory), and rank 0's outputs are written; every rank's outputs must agree.
 * With --mpi 1 (under mpirun) every MPI process is one TP rank of MPI_COMM_WORLD (comm_mpi.c);
 * rank 0 writes the outputs. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "comm/comm_mpi.h"
#include "comm_threads.h"
#include "webssl.h"

typedef struct {
    const char *model, *random, *arch, *pixels_file, *out;
    uint64_t seed;
    int B, R, tp, mpi;
    ws_model_options opt;
    const float *pixels;
    float *cls, *mean, *patch;
    size_t C, P2;
    int rc;
    char err[2048];
    ws_comm *comm;
} job;

static void *run_rank(void *arg) {
    job *j = arg;
    ws_model_options o = j->opt;
    o.comm = j->comm;
    o.tp_rank = j->comm ? j->comm->rank : 0;
    o.tp_size = j->comm ? j->comm->size : 1;
    o.arch = j->arch;
    ws_model *m = NULL;
    if (j->random) {
        ws_arch a;
        j->rc = arch_resolve(j->random, &a);
        if (!j->rc) j->rc = ws_model_create_random(&a, j->seed, &o, &m);
    } else {
        j->rc = ws_model_load(j->model, &o, &m);
    }
    if (!j->rc) {
        if (o.tp_rank == 0) fprintf(stderr, "model_forward: %s\n", ws_model_gemm_info(m));
        const ws_arch *a = ws_model_arch(m);
        size_t C = (size_t)a->embed_dim, g = (size_t)(j->R / a->patch_size);
        j->C = C;
        j->P2 = g * g;
        j->cls = malloc((size_t)j->B * C * sizeof(float));
        j->mean = malloc((size_t)j->B * C * sizeof(float));
        j->patch = malloc((size_t)j->B * g * g * C * sizeof(float));
        ws_features f = {j->cls, j->mean, j->patch};
        j->rc = ws_model_forward(m, j->pixels, j->B, j->R, &f);
    }
    if (j->rc) snprintf(j->err, sizeof j->err, "%s", ws_error_message());
    ws_model_free(m);
    return NULL;
}

static int write_f32(const char *prefix, const char *suffix, const float *x, size_t n) {
    char path[4096];
    snprintf(path, sizeof path, "%s.%s", prefix, suffix);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(x, sizeof(float), n, f) != n) {
        fprintf(stderr, "model_forward: cannot write %s\n", path);
        if (f) fclose(f);
        return 1;
    }
    return fclose(f) != 0;
}

int main(int argc, char **argv) {
    job base = {.B = 1, .tp = 1};
    ws_model_options_init(&base.opt);
    base.opt.threads = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--model")) base.model = v;
        else if (!strcmp(k, "--random")) base.random = v;
        else if (!strcmp(k, "--arch")) base.arch = v;
        else if (!strcmp(k, "--seed")) base.seed = strtoull(v, NULL, 10);
        else if (!strcmp(k, "--pixels")) base.pixels_file = v;
        else if (!strcmp(k, "--batch")) base.B = atoi(v);
        else if (!strcmp(k, "--resolution")) base.R = atoi(v);
        else if (!strcmp(k, "--out")) base.out = v;
        else if (!strcmp(k, "--tp")) base.tp = atoi(v);
        else if (!strcmp(k, "--mpi")) base.mpi = atoi(v);
        else if (!strcmp(k, "--device")) base.opt.device = v;
        else if (!strcmp(k, "--dtype")) {
            if (ws_dtype_parse(v, &base.opt.compute)) { fprintf(stderr, "bad --dtype %s\n", v); return 1; }
        } else if (!strcmp(k, "--posembed")) {
            base.opt.posembed = !strcmp(v, "original") ? WS_POSEMBED_ORIGINAL
                              : !strcmp(v, "hf-antialias") ? WS_POSEMBED_HF_ANTIALIAS : WS_POSEMBED_HF;
        } else {
            fprintf(stderr, "model_forward: unknown option %s\n", k);
            return 1;
        }
    }
    if ((!base.model && !base.random) || !base.pixels_file || !base.out || base.R <= 0 || base.B <= 0 || base.tp < 1) {
        fprintf(stderr, "usage: model_forward (--model PATH | --random ARCH --seed S) --pixels FILE "
                        "--batch B --resolution R --out PREFIX [--dtype D] [--posembed hf|original|hf-antialias] [--tp N] "
                        "[--device cpu|cuda]\n");
        return 1;
    }
    size_t npix = (size_t)base.B * 3 * base.R * base.R;
    float *pixels = malloc(npix * sizeof(float));
    FILE *f = fopen(base.pixels_file, "rb");
    if (!pixels || !f || fread(pixels, sizeof(float), npix, f) != npix) {
        fprintf(stderr, "model_forward: cannot read %zu floats from %s\n", npix, base.pixels_file);
        return 1;
    }
    fclose(f);
    base.pixels = pixels;

    if (base.mpi) {
        MPI_Init(&argc, &argv);
        base.comm = comm_mpi_create(MPI_COMM_WORLD);
        int rank = base.comm ? base.comm->rank : 0;
        if (base.comm) run_rank(&base);
        int rc = !base.comm || base.rc;
        if (base.rc) fprintf(stderr, "model_forward: rank %d: %s\n", rank, base.err);
        if (!rc && rank == 0) {
            size_t BC = (size_t)base.B * base.C;
            rc |= write_f32(base.out, "cls", base.cls, BC);
            rc |= write_f32(base.out, "patch_mean", base.mean, BC);
            rc |= write_f32(base.out, "patch", base.patch, BC * base.P2);
        }
        comm_free(base.comm);
        free(base.cls);
        free(base.mean);
        free(base.patch);
        free(pixels);
        MPI_Finalize();
        return rc;
    }
    job *jobs = calloc((size_t)base.tp, sizeof *jobs);
    ws_comm **comms = comm_threads_create(base.tp);
    pthread_t *th = calloc((size_t)base.tp, sizeof *th);
    if (!jobs || !comms || !th) return 1;
    for (int r = 0; r < base.tp; r++) {
        jobs[r] = base;
        jobs[r].comm = base.tp > 1 ? comms[r] : NULL;
        if (base.tp > 1) jobs[r].opt.threads = 1;
        pthread_create(&th[r], NULL, run_rank, &jobs[r]);
    }
    int rc = 0;
    for (int r = 0; r < base.tp; r++) {
        pthread_join(th[r], NULL);
        if (jobs[r].rc) {
            fprintf(stderr, "model_forward: rank %d: %s\n", r, jobs[r].err);
            rc = 1;
        }
    }
    if (!rc) {
        for (int r = 1; r < base.tp; r++)
            if (memcmp(jobs[r].cls, jobs[0].cls, (size_t)base.B * jobs[0].C * sizeof(float))) {
                fprintf(stderr, "model_forward: rank %d's CLS differs from rank 0's\n", r);
                rc = 1;
            }
        const job *j = &jobs[0];
        size_t BC = (size_t)base.B * j->C;
        rc |= write_f32(base.out, "cls", j->cls, BC);
        rc |= write_f32(base.out, "patch_mean", j->mean, BC);
        rc |= write_f32(base.out, "patch", j->patch, BC * j->P2);
    }
    for (int r = 0; r < base.tp; r++) {
        free(jobs[r].cls);
        free(jobs[r].mean);
        free(jobs[r].patch);
        comm_free(comms[r]);
    }
    free(comms);
    free(jobs);
    free(th);
    free(pixels);
    return rc;
}
