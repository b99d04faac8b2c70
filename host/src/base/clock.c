// CLOCK_MONOTONIC, so a timing is not disturbed by the wall clock being set.
#include <time.h>

#include "sparq_clock.h"

double sparq_clock_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}
