// sparq-layer: base
// Strict parsing of numeric command-line values. Unlike atoi/strtod these
// refuse empty text, leading blanks, trailing junk, NaN/Inf and values out of
// [lo, hi], recording a message such as
//   --beam: 'abc' is not an integer in 1..1024
// (sparq_last_error()) and returning SPARQ_EINVAL.
#ifndef SPARQ_PARSE_H
#define SPARQ_PARSE_H

#include <stdint.h>

// OpenMP thread counts above this are refused: libgomp crashes on huge ones.
#define SPARQ_THREADS_MAX 64

int sparq_parse_int(const char *flag, const char *text, long long lo, long long hi, int *out);
int sparq_parse_i64(const char *flag, const char *text, long long lo, long long hi, int64_t *out);
// Decimal or 0x-prefixed hexadecimal, no sign (seeds).
int sparq_parse_u64(const char *flag, const char *text, uint64_t *out);
// A finite number in [lo, hi].
int sparq_parse_double(const char *flag, const char *text, double lo, double hi, double *out);
int sparq_parse_float(const char *flag, const char *text, double lo, double hi, float *out);

#endif
