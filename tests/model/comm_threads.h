/* An in-process communicator for tests: `n` ranks that are threads of one process, summing
 * through shared memory. Lets the tensor-parallel model code run with tp > 1 without MPI. */
#ifndef WEBSSL_TESTS_COMM_THREADS_H
#define WEBSSL_TESTS_COMM_THREADS_H

#include "comm/comm.h"

/* n communicators (ranks 0..n-1 of one group), each used by one thread; free each with
 * comm_free() and the array with free(). NULL when out of memory. */
ws_comm **comm_threads_create(int n);

#endif
