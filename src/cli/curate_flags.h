/* Flag values of the curation commands (cluster, dedup, sample): integer lists (--k 20000,2000),
 * number lists (--eps 0.01,0.05) and bounded integers, each error naming the flag. One place for
 * these until the commands declare their flags in the common table. */
#ifndef WEBSSL_CLI_CURATE_FLAGS_H
#define WEBSSL_CLI_CURATE_FLAGS_H

#include <stdint.h>

/* "a,b,c" of integers in [lo, hi] into out[max]; *n gets the count. WS_OK or WS_ERR_ARG. */
int curate_flag_ints(const char *flag, const char *value, long long lo, long long hi, long long *out, int max, int *n);
/* One integer in [lo, hi]. */
int curate_flag_int(const char *flag, const char *value, long long lo, long long hi, long long *out);
/* "a,b" of numbers in (lo, hi) into out[max]. */
int curate_flag_doubles(const char *flag, const char *value, double lo, double hi, double *out, int max, int *n);
/* The value after flag argv[*i] (advancing *i), or NULL with an error naming the flag. */
const char *curate_flag_value(int argc, char **argv, int *i);

#endif
