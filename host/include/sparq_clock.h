// sparq-layer: base
// The monotonic clock every timing in sparq reads (progress lines, reports,
// benchmarks): seconds from an arbitrary start, never going backwards.
#ifndef SPARQ_CLOCK_H
#define SPARQ_CLOCK_H

double sparq_clock_s(void);

#endif
