/* The forward-pass benchmark (see bench.h). */
#include "driver/bench.h"
#include "comm/topology.h"
#include "common/check.h"
#include "common/error.h"
#include "driver/device.h"
#include "webssl.h"

#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

void bench_options_default(bench_options *o) {
    memset(o, 0, sizeof *o);
    o->device = "cpu";
    o->batch = 8;
    o->iters = 5;
    o->warmup = 1;
    o->tp = 1;
    o->dtype = WS_DTYPE_F32;
    o->allreduce = WS_DTYPE_F32;
}

/* What one run holds, released in reverse order by bench_free. */
typedef struct {
    ws_topology topo;
    int have_topo;
    run_device dev;
    ws_model *model;
    void *pixels;              /* uint8 [B,R,R,3] when the backend normalises, else f32 [B,3,R,R] */
    float *cls, *mean;
} bench_state;

static void bench_free(bench_state *s) {
    ws_model_free(s->model);
    if (s->pixels) s->dev.be->ops->host_free(s->dev.be, s->pixels);
    free(s->cls);
    free(s->mean);
    device_free(&s->dev);
    if (s->have_topo) topology_free(&s->topo);
}

/* Topology, device, model and buffers; each step agreed over the world. */
static int bench_setup(const bench_options *o, const ws_arch *a, int R, bench_state *s) {
    int rc = topology_create(o->tp, &s->topo);
    if (rc != WS_OK) return rc;   /* the same on every rank */
    s->have_topo = 1;
    MPI_Comm world = s->topo.world;
    if ((rc = topology_check_heads(&s->topo, a->num_heads, a->name)) != WS_OK) return rc;
    rc = topology_agree(world, device_pick(o->device, s->topo.local_rank, s->topo.local_size, &s->dev));
    if (rc == WS_OK) rc = topology_agree(world, device_setup(&s->dev, &s->topo, o->threads, a, R, o->batch, o->dtype));
    if (rc != WS_OK) return rc;
    ws_model_options mo;
    ws_model_options_init(&mo);
    mo.device = o->device;
    mo.device_index = s->dev.index;
    mo.backend = s->dev.be;
    mo.threads = o->threads;
    mo.compute = o->dtype;
    mo.allreduce = o->allreduce;
    mo.tp_rank = s->topo.tp_rank;
    mo.tp_size = s->topo.tp;
    mo.comm = s->topo.tp > 1 ? s->dev.comm : NULL;
    if ((rc = topology_agree(world, ws_model_create_random(a, 1, &mo, &s->model))) != WS_OK) return rc;
    const size_t npix = (size_t)o->batch * 3 * (size_t)R * (size_t)R, BC = (size_t)o->batch * (size_t)a->embed_dim;
    const int u8 = ws_model_input_u8(s->model);
    s->pixels = s->dev.be->ops->host_alloc(s->dev.be, npix * (u8 ? 1 : sizeof(float)));
    s->cls = malloc(BC * sizeof(float));
    s->mean = malloc(BC * sizeof(float));
    rc = s->pixels && s->cls && s->mean
             ? WS_OK
             : ws_errorf(WS_ERR_NOMEM, "out of memory for batch %d at %d x %d", o->batch, R, R);
    if ((rc = topology_agree(world, rc)) != WS_OK) return rc;
    uint32_t x = 12345u;
    for (size_t i = 0; i < npix; i++) {
        x = x * 1664525u + 1013904223u;
        if (u8) ((uint8_t *)s->pixels)[i] = (uint8_t)(x >> 24);
        else ((float *)s->pixels)[i] = (float)(x >> 8) / 16777216.0f * 4.0f - 2.0f;
    }
    return WS_OK;
}

/* `n` forward passes as embed runs them (webssl.h): pass i+1 is uploaded into the other input
 * slot and submitted before pass i is collected (the same host images every time). */
static int bench_passes(bench_state *s, const ws_arch *a, int B, int R, int n, ws_features *f) {
    const int u8 = ws_model_input_u8(s->model);
    const float *mean = a->preprocess.mean, *std = a->preprocess.std;
    const float *px = u8 ? NULL : s->pixels;
    const uint8_t *pu = u8 ? s->pixels : NULL;
    int rc = WS_OK;
    for (int i = 0; i <= n && rc == WS_OK; i++) {
        if (i < n) {
            rc = ws_model_upload(s->model, i % 2, px, pu, mean, std, B, R);
            if (rc == WS_OK) rc = ws_model_submit(s->model, i % 2, f);
        }
        if (rc == WS_OK && i > 0) rc = ws_model_collect(s->model, (i - 1) % 2);
    }
    return rc;
}

int bench_run(const bench_options *o, bench_result *res) {
    memset(res, 0, sizeof *res);
    int rc = arch_resolve(o->arch, &res->arch);
    if ((rc = topology_agree(MPI_COMM_WORLD, rc)) != WS_OK) return rc;
    const ws_arch *a = &res->arch;
    const int B = o->batch, R = o->resolution ? o->resolution : a->img_size;
    bench_state s;
    memset(&s, 0, sizeof s);
    rc = bench_setup(o, a, R, &s);
    if (rc == WS_OK) {
        ws_comm *comm = s.topo.tp > 1 ? s.dev.comm : NULL;
        ws_features f = {s.cls, s.mean, NULL};
        /* on CUDA each slot's pass is captured as a graph on its second run (webssl.h): four
         * passes before timing, so that the timed ones replay */
        const int warm = !strcmp(o->device, "cuda") && o->warmup < 4 ? 4 : o->warmup;
        rc = bench_passes(&s, a, B, R, warm, &f);
        if (comm) comm->comm_seconds = 0;
        const double t0 = MPI_Wtime();
        if (rc == WS_OK) rc = bench_passes(&s, a, B, R, o->iters, &f);
        const double dt = (MPI_Wtime() - t0) / o->iters;
        rc = topology_agree(s.topo.world, rc);
        if (rc == WS_OK) {
            struct rusage ru;
            getrusage(RUSAGE_SELF, &ru);
            double worst[3] = {dt, comm ? comm->comm_seconds : 0.0, ru.ru_maxrss / 1024.0};
            MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, worst, 3, MPI_DOUBLE, MPI_MAX, s.topo.world));
            res->resolution = R;
            res->dp = s.topo.dp;
            res->tp = s.topo.tp;
            res->world_rank = s.topo.world_rank;
            res->seconds_per_batch = worst[0];
            res->comm_seconds = worst[1];
            res->peak_rss_mb = worst[2];
            res->images_per_second = B / worst[0];
            res->gflops_per_second = arch_flops_per_image(a, R) * res->images_per_second * 1e-9;
            res->weight_mb = (double)ws_model_weight_bytes(s.model) / 1048576.0;
            snprintf(res->gemm, sizeof res->gemm, "%s", ws_model_gemm_info(s.model));
        }
    }
    bench_free(&s);
    return rc;
}
