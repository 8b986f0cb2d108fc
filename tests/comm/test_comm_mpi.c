/* MPI communicator and topology test, run under mpirun with any rank count: all-reduce (f32,
 * bf16, f16; uneven sizes) against a double-precision sum of every rank's data computed locally,
 * broadcast from every root, dp x tp splits for every tp that divides the world, a clear error
 * for a tp that does not, and setup agreement when one rank fails. The same checks run on the
 * staged communicator (comm_staged.h) over the CPU backend's buffers, and the TP factory
 * (comm_tp.h) must give the CPU backend the MPI communicator. Prints max abs/rel errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "comm/comm_mpi.h"
#include "comm/comm_staged.h"
#include "comm/comm_tp.h"
#include "comm/topology.h"
#include "common/dtype.h"
#include "common/error.h"

static int failures = 0;
static int world_rank, world_size;

#define EXPECT(cond, ...) do { if (!(cond)) { failures++; \
    fprintf(stderr, "rank %d: FAIL %s:%d: ", world_rank, __FILE__, __LINE__); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

static float value(int rank, size_t i) {
    return (float)sin(0.37 * (double)i + 1.3 * rank) * (float)(1 + rank);
}

static void test_allreduce(ws_comm *c, ws_dtype dt, size_t n) {
    size_t es = ws_dtype_size(dt);
    float *x = malloc(n * sizeof *x);
    unsigned char *buf = malloc(n * es);
    for (size_t i = 0; i < n; i++) x[i] = value(c->rank, i);
    ws_convert_from_f32(buf, dt, x, n);
    int rc = comm_allreduce_sum(c, buf, n, dt);
    EXPECT(rc == WS_OK, "allreduce %s n=%zu: %s", ws_dtype_name(dt), n, ws_error_message());
    ws_convert_to_f32(x, buf, dt, n);
    double max_abs = 0, max_ref = 0;
    for (size_t i = 0; i < n; i++) {
        double ref = 0;
        for (int r = 0; r < c->size; r++) {
            float v = value(r, i), q;  /* each rank's input as rounded to dt */
            unsigned char tmp[4];
            ws_convert_from_f32(tmp, dt, &v, 1);
            ws_convert_to_f32(&q, tmp, dt, 1);
            ref += q;
        }
        double e = fabs(x[i] - ref);
        if (e > max_abs) max_abs = e;
        if (fabs(ref) > max_ref) max_ref = fabs(ref);
    }
    double tol = (dt == WS_DTYPE_F32 ? 1e-6 : dt == WS_DTYPE_F16 ? 1e-3 : 8e-3) * (max_ref + 1);
    if (c->rank == 0 && world_rank == 0)
        printf("allreduce %-4s n=%-8zu size=%d max abs err %.3g (rel %.3g) tol %.3g\n",
               ws_dtype_name(dt), n, c->size, max_abs, max_abs / (max_ref + 1e-30), tol);
    EXPECT(max_abs <= tol, "allreduce %s n=%zu: max abs err %g > %g", ws_dtype_name(dt), n, max_abs, tol);
    free(x);
    free(buf);
}

static void test_broadcast(ws_comm *c) {
    for (int root = 0; root < c->size; root++) {
        size_t n = 1000 + (size_t)root * 7;
        unsigned char *b = malloc(n);
        for (size_t i = 0; i < n; i++) b[i] = c->rank == root ? (unsigned char)(i * 31 + root) : 0;
        EXPECT(comm_broadcast(c, b, n, root) == WS_OK, "broadcast: %s", ws_error_message());
        size_t bad = 0;
        for (size_t i = 0; i < n; i++) bad += b[i] != (unsigned char)(i * 31 + root);
        EXPECT(bad == 0, "broadcast from %d: %zu wrong bytes", root, bad);
        free(b);
    }
}

int main(int argc, char **argv) {
    if (topology_mpi_init(&argc, &argv) != WS_OK) return 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world_size);

    for (int tp = 1; tp <= world_size; tp++) {
        ws_topology t;
        int rc = topology_create(tp, &t);
        if (world_size % tp != 0) {
            EXPECT(rc == WS_ERR_ARG && strstr(ws_error_message(), "--tp"),
                   "tp %d of %d accepted or unclear: %s", tp, world_size, ws_error_message());
            if (world_rank == 0) printf("tp %d of %d refused: %s\n", tp, world_size, ws_error_message());
            continue;
        }
        EXPECT(rc == WS_OK, "topology tp %d: %s", tp, ws_error_message());
        if (rc != WS_OK) continue;
        EXPECT(t.dp * t.tp == world_size && t.tp_rank == world_rank % tp && t.group == world_rank / tp,
               "layout tp %d: dp %d tp_rank %d group %d", tp, t.dp, t.tp_rank, t.group);
        EXPECT(t.group_on_one_node, "TP group not on one node on a single machine");
        EXPECT(topology_check_heads(&t, 1, "one-head") == (tp > 1 ? WS_ERR_ARG : WS_OK), "heads check");
        ws_backend *be = NULL;
        EXPECT(backend_create("cpu", 1, 0, &be) == WS_OK, "cpu backend: %s", ws_error_message());
        ws_comm *tpc = NULL;
        comm_kind kind = COMM_KIND_NCCL;
        EXPECT(comm_create_tp(t.tp_comm, be, &tpc, &kind, NULL) == WS_OK && kind == COMM_KIND_MPI && tpc &&
               tpc->size == tp, "comm_create_tp on the cpu backend: kind %d: %s", (int)kind, ws_error_message());
        comm_free(tpc);
        for (int staged = 0; staged <= 1; staged++) {
            ws_comm *c = comm_mpi_create(t.tp_comm);
            if (staged) c = comm_staged_create(c, be);
            EXPECT(c && c->size == tp && c->rank == t.tp_rank, "comm rank/size (staged %d)", staged);
            if (world_rank == 0) printf("communicator %s, tp %d\n", c->ops->name, tp);
            size_t sizes[] = {1, 7, 1000, 100003};
            for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
                for (int dt = 0; dt < WS_DTYPE_COUNT; dt++) test_allreduce(c, (ws_dtype)dt, sizes[k]);
            test_broadcast(c);
            comm_free(c);
        }
        backend_free(be);
        topology_free(&t);
    }

    /* Agreement: the last rank fails; every rank must learn its message. */
    int rc = world_rank == world_size - 1 ? ws_errorf(WS_ERR_IO, "cannot open model.safetensors") : WS_OK;
    rc = topology_agree(MPI_COMM_WORLD, rc);
    EXPECT(rc == WS_ERR_IO && strstr(ws_error_message(), "model.safetensors"),
           "agree: rc %d message '%s'", rc, ws_error_message());
    if (world_rank == 0) printf("agreement: %s\n", ws_error_message());
    EXPECT(topology_agree(MPI_COMM_WORLD, WS_OK) == WS_OK, "agree on success");

    int total = 0;
    MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (world_rank == 0) printf("%s: %d failures\n", total ? "FAILED" : "PASSED", total);
    topology_mpi_finalize();
    return total ? 1 : 0;
}
