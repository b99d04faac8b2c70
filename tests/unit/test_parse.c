// Strict numeric flag parsing (sparq_parse.h) and the error API's self-wrapping
// (sparq_error.h): junk, NaN/Inf and out-of-range values are refused with a
// message naming the flag; sparq_fail() may quote sparq_last_error() safely.
#include <string.h>

#include "check.h"
#include "sparq_error.h"
#include "sparq_parse.h"

static int refused(int rc, const char *flag, const char *text)
{
    const char *e = sparq_last_error();
    return rc == SPARQ_EINVAL && strstr(e, flag) && strstr(e, text);
}

int main(void)
{
    int i = 7;
    int64_t l = 7;
    double d = 7;
    float f = 7;
    uint64_t u = 7;
    CHECK(sparq_parse_int("--beam", "8", 1, 1024, &i) == SPARQ_OK && i == 8, "'8' parses as 8");
    CHECK(sparq_parse_int("--beam", "1024", 1, 1024, &i) == SPARQ_OK && i == 1024, "upper bound is inclusive");
    const char *bad_ints[] = { "abc", "0", "-1", "5x", "", " 5", "1025", "99999999999999999999", "1.5", "0x10" };
    for (size_t k = 0; k < sizeof bad_ints / sizeof *bad_ints; k++) {
        i = 7;
        int rc = sparq_parse_int("--beam", bad_ints[k], 1, 1024, &i);
        CHECK(refused(rc, "--beam", bad_ints[k]) && i == 7, "--beam '%s' refused: %s", bad_ints[k], sparq_last_error());
    }
    CHECK(!strcmp(sparq_last_error(), "--beam: '0x10' is not an integer in 1..1024"), "message format: %s",
          sparq_last_error());
    CHECK(sparq_parse_int("--x", "3000000000", 0, 4000000000LL, &i) != SPARQ_OK, "int range is clamped to int");
    CHECK(sparq_parse_i64("--max-steps", "5000000000", 0, INT64_MAX, &l) == SPARQ_OK && l == 5000000000LL,
          "64-bit values parse");
    CHECK(sparq_parse_i64("--max-steps", "-1", 0, INT64_MAX, &l) != SPARQ_OK && l == 5000000000LL, "-1 refused");
    CHECK(sparq_parse_u64("--seed", "0x10", &u) == SPARQ_OK && u == 16, "hex seed parses");
    CHECK(sparq_parse_u64("--seed", "-1", &u) != SPARQ_OK && u == 16, "negative seed refused (strtoull wraps it)");
    CHECK(sparq_parse_u64("--seed", "12z", &u) != SPARQ_OK, "seed with junk refused");
    CHECK(sparq_parse_double("--lr", "2e-3", 1e-12, 10, &d) == SPARQ_OK && d == 2e-3, "'2e-3' parses");
    const char *bad_dbls[] = { "inf", "nan", "-inf", "NAN", "", "1e999", "0", "1.5.2", "3 ", "11" };
    for (size_t k = 0; k < sizeof bad_dbls / sizeof *bad_dbls; k++) {
        d = 7;
        int rc = sparq_parse_double("--lr", bad_dbls[k], 1e-12, 10, &d);
        CHECK(refused(rc, "--lr", bad_dbls[k]) && d == 7, "--lr '%s' refused: %s", bad_dbls[k], sparq_last_error());
    }
    CHECK(sparq_parse_float("--dither", "nan", 0, 1e4, &f) != SPARQ_OK && f == 7, "float: nan refused");
    CHECK(sparq_parse_float("--dither", "0.5", 0, 1e4, &f) == SPARQ_OK && f == 0.5f, "float: 0.5 parses");

    // sparq_fail() given its own last message must not garble it.
    sparq_fail(SPARQ_EINVAL, "section 'config': d_model must be in 1..4096");
    sparq_fail(SPARQ_EINVAL, "c.spq: %s", sparq_last_error());
    CHECK(!strcmp(sparq_last_error(), "c.spq: section 'config': d_model must be in 1..4096"),
          "sparq_fail(\"%%s\", sparq_last_error()) is safe: %s", sparq_last_error());
    int rc = sparq_fail_wrap(SPARQ_EFORMAT, "model %s: ", "m.spq");
    CHECK(rc == SPARQ_EFORMAT && !strcmp(sparq_last_error(), "model m.spq: c.spq: section 'config': d_model must be in 1..4096"),
          "sparq_fail_wrap prepends context: %s", sparq_last_error());
    return check_done();
}
