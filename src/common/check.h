/* Checks on library calls whose failure leaves the program in no state to continue (MPI, HDF5
 * internals, CUDA runtime): each prints the failing call with file and line, then stops every rank
 * through ws_fatal (MPI_Abort when MPI is up, so no rank hangs). Asserts stay on in release builds;
 * never put a side effect inside WS_ASSERT. Recoverable errors use common/error.h instead. */
#ifndef WEBSSL_COMMON_CHECK_H
#define WEBSSL_COMMON_CHECK_H

_Noreturn void ws_fatal(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define WS_ASSERT(cond) \
    do { if (!(cond)) ws_fatal(__FILE__, __LINE__, "assertion failed: %s", #cond); } while (0)

#define MPI_CHECK(call) \
    do { int mpi_rc_ = (call); \
         if (mpi_rc_ != 0) ws_fatal(__FILE__, __LINE__, "%s failed (MPI error %d)", #call, mpi_rc_); \
    } while (0)

#endif
