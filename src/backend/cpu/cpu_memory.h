/* Host memory the CPU backend's ops hold beyond the model's activations (the scratch_bytes op of
 * the backend table): the attention's score matrix, one per thread. */
#ifndef WEBSSL_BACKEND_CPU_MEMORY_H
#define WEBSSL_BACKEND_CPU_MEMORY_H

#include <stddef.h>

/* Bytes of one thread's attention scratch for N tokens: an N x N f32 score matrix (attention.c). */
size_t cpu_attention_thread_bytes(int N);

#endif
