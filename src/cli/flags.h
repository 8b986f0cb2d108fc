/* Integer flags of the commands: one table of names and bounds and one parser, so a flag accepts
 * the same range in every command that has it (embed, preprocess, bench, cost). */
#ifndef WEBSSL_CLI_FLAGS_H
#define WEBSSL_CLI_FLAGS_H

/* Parse `value` of the integer flag `flag` (e.g. "--batch"; it must be in the table) into *out.
 * WS_OK, or WS_ERR_ARG with "--batch '0': expected an integer in [1, 65536]". */
int flag_int(const char *flag, const char *value, int *out);
/* The same for flags whose range does not fit an int (--max-pixels, --shard-size). */
int flag_long(const char *flag, const char *value, long long *out);

#endif
