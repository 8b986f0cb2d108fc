/* Checks on calls whose failure leaves the program in no state to continue: WS_ASSERT and
 * MPI_CHECK here, CUDA_CHECK / CUBLAS_CHECK in backend/cuda/cuda_check.h, NCCL_CHECK in
 * comm/nccl.c, DNNL_CHECK in backend/cpu/matmul_onednn.c (and ws_fatal called directly where a
 * rank cannot leave its TP group mid-batch: driver/embed_loop.c). Each logs the failing call with file and line and stops through ws_fatal, which
 * runs the stop hook (MPI_Abort once MPI is up: comm/topology.c installs it, so no rank hangs)
 * and aborts. Asserts stay on in release builds; never put a side effect inside WS_ASSERT.
 * Recoverable errors (HDF5 calls among them: io/h5_check.h) use common/error.h instead. This
 * file includes no MPI: MPI_CHECK only names MPI's return convention (0 is success). */
#ifndef WEBSSL_COMMON_CHECK_H
#define WEBSSL_COMMON_CHECK_H

_Noreturn void ws_fatal(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* What ws_fatal calls after logging and before abort(), e.g. a function that stops every rank;
 * NULL for none (the default). */
void ws_fatal_set_stop(void (*stop)(void));

#define WS_ASSERT(cond) \
    do { if (!(cond)) ws_fatal(__FILE__, __LINE__, "assertion failed: %s", #cond); } while (0)

#define MPI_CHECK(call) \
    do { int mpi_rc_ = (call); \
         if (mpi_rc_ != 0) ws_fatal(__FILE__, __LINE__, "%s failed (MPI error %d)", #call, mpi_rc_); \
    } while (0)

#endif
