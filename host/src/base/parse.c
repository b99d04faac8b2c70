// Strict numeric flag parsing (sparq_parse.h): the whole text must be one
// number in range, so `--beam 5x` or `--lr nan` never slips through as 5 or NaN.
#include "sparq_parse.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "sparq_error.h"

// strtoll/strtod skip leading blanks and accept an empty remainder; refuse both.
static int starts_badly(const char *text)
{
    return !text || !*text || isspace((unsigned char)text[0]);
}

static int parse_ll(const char *flag, const char *text, long long lo, long long hi, long long *out)
{
    char *end = NULL;
    errno = 0;
    long long v = starts_badly(text) ? 0 : strtoll(text, &end, 10);
    if (starts_badly(text) || *end || errno == ERANGE || v < lo || v > hi)
        return sparq_fail(SPARQ_EINVAL, "%s: '%s' is not an integer in %lld..%lld", flag, text ? text : "",
                          lo, hi);
    *out = v;
    return SPARQ_OK;
}

int sparq_parse_int(const char *flag, const char *text, long long lo, long long hi, int *out)
{
    long long v;
    int rc = parse_ll(flag, text, lo < INT32_MIN ? INT32_MIN : lo, hi > INT32_MAX ? INT32_MAX : hi, &v);
    if (rc == SPARQ_OK)
        *out = (int)v;
    return rc;
}

int sparq_parse_i64(const char *flag, const char *text, long long lo, long long hi, int64_t *out)
{
    long long v;
    int rc = parse_ll(flag, text, lo, hi, &v);
    if (rc == SPARQ_OK)
        *out = (int64_t)v;
    return rc;
}

int sparq_parse_u64(const char *flag, const char *text, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    // strtoull quietly negates "-1" into a huge value: refuse any sign.
    int bad = starts_badly(text) || text[0] == '-' || text[0] == '+';
    unsigned long long v = bad ? 0 : strtoull(text, &end, 0);
    if (bad || *end || errno == ERANGE)
        return sparq_fail(SPARQ_EINVAL, "%s: '%s' is not an unsigned integer (decimal or 0x hex)", flag,
                          text ? text : "");
    *out = (uint64_t)v;
    return SPARQ_OK;
}

int sparq_parse_double(const char *flag, const char *text, double lo, double hi, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = starts_badly(text) ? NAN : strtod(text, &end);
    if (starts_badly(text) || *end || !isfinite(v) || v < lo || v > hi)
        return sparq_fail(SPARQ_EINVAL, "%s: '%s' is not a finite number in %g..%g", flag, text ? text : "", lo,
                          hi);
    *out = v;
    return SPARQ_OK;
}

int sparq_parse_float(const char *flag, const char *text, double lo, double hi, float *out)
{
    double v;
    int rc = sparq_parse_double(flag, text, lo, hi, &v);
    if (rc == SPARQ_OK)
        *out = (float)v;
    return rc;
}
