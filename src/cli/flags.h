/* Numeric flags of the commands: one table of integer names and bounds and one parser per kind
 * (integer, seconds, byte count), so a flag accepts the same range in every command that has it
 * (embed, preprocess, bench, cost). */
#ifndef WEBSSL_CLI_FLAGS_H
#define WEBSSL_CLI_FLAGS_H

#include <stdint.h>

#include "common/dtype.h"

/* Parse `value` of the integer flag `flag` (e.g. "--batch"; it must be in the table) into *out.
 * WS_OK, or WS_ERR_ARG with "--batch '0': expected an integer in [1, 65536]". */
int flag_int(const char *flag, const char *value, int *out);
/* The same for flags whose range does not fit an int (--max-pixels, --shard-size). */
int flag_long(const char *flag, const char *value, long long *out);
/* Seconds as a decimal number in [lo, 86400] (--retry-wait, --io-timeout). */
int flag_seconds(const char *flag, const char *value, double lo, double *out);
/* The dtype of the tensor-parallel all-reduces, --allreduce f32|bf16 (embed and bench). */
int flag_allreduce(const char *value, ws_dtype *out);
/* A positive byte count with an optional suffix k, M, G or T (powers of 1024; --max-shard-bytes). */
int flag_bytes(const char *flag, const char *value, uint64_t *out);
/* --decode exact|fast: *fast = 1 for fast (JPEG DCT-domain downscaling), 0 for exact. */
int flag_decode(const char *value, int *fast);

#endif
