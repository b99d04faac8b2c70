// splitmix64 and the two distributions sparq draws from: small, seedable
// and the same on every machine, so a seed replays a corpus, an
// initialisation or a fault pattern exactly.
#include <math.h>

#include "sparq_rng.h"

uint64_t sparq_rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double sparq_rng_uniform(uint64_t *s) { return (double)(sparq_rng_next(s) >> 11) * 0x1.0p-53; }

double sparq_rng_normal(uint64_t *s)
{
    double u1 = sparq_rng_uniform(s), u2 = sparq_rng_uniform(s);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}
