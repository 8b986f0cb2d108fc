/* Comma-separated lists of the curation commands' flags (cluster --k 20000,2000,200, dedup --eps
 * 0.01,0.05), which the flag table takes as strings (cli/flags.h): parsed here, each error naming
 * the flag. */
#ifndef WEBSSL_CLI_CURATE_FLAGS_H
#define WEBSSL_CLI_CURATE_FLAGS_H

/* "a,b,c" of integers in [lo, hi] into out[max]; *n gets the count. WS_OK or WS_ERR_ARG. */
int curate_flag_ints(const char *flag, const char *value, long long lo, long long hi, long long *out, int max, int *n);
/* "a,b" of numbers in (lo, hi) into out[max]. */
int curate_flag_doubles(const char *flag, const char *value, double lo, double hi, double *out, int max, int *n);

#endif
