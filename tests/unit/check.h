// Minimal TAP-style checks for sparq's C tests. Each CHECK prints
// "ok N - what" or "not ok N - what"; the runner counts these lines.
// A test binary exits non-zero if any check failed.
#ifndef SPARQ_CHECK_H
#define SPARQ_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

static int check_count, check_failures;

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        int check_ok_ = (cond) ? 1 : 0;                                       \
        check_count++;                                                        \
        if (!check_ok_)                                                       \
            check_failures++;                                                 \
        printf("%sok %d - ", check_ok_ ? "" : "not ", check_count);           \
        printf(__VA_ARGS__);                                                  \
        printf("\n");                                                         \
        if (!check_ok_)                                                       \
            printf("#   failed at %s:%d: %s\n", __FILE__, __LINE__, #cond);   \
        fflush(stdout);                                                       \
    } while (0)

// Seed for randomised tests: SPARQ_SEED in the environment replays a run.
static inline uint64_t check_seed(uint64_t fallback)
{
    const char *s = getenv("SPARQ_SEED");
    uint64_t seed = s ? strtoull(s, NULL, 0) : fallback;
    printf("# seed %" PRIu64 " (replay with SPARQ_SEED=%" PRIu64 ")\n", seed, seed);
    return seed;
}

static inline int check_done(void)
{
    printf("1..%d\n", check_count);
    if (check_failures)
        printf("# %d of %d checks failed\n", check_failures, check_count);
    return check_failures ? 1 : 0;
}

#endif
