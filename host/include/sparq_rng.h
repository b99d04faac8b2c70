// sparq-layer: base
// The seeded random number generator every layer uses (corpus voices,
// weight initialisation, SpecAugment, dither, shuffles, injected faults,
// random tests): splitmix64, one uint64_t of state.
#ifndef SPARQ_RNG_H
#define SPARQ_RNG_H

#include <stdint.h>

uint64_t sparq_rng_next(uint64_t *state);
double sparq_rng_uniform(uint64_t *state);  // [0, 1)
double sparq_rng_normal(uint64_t *state);   // N(0, 1), Box-Muller

#endif
