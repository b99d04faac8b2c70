// Where long audio is cut (sparq_longform.h): the first pause of 120 ms or
// more at least `from` into the buffer, quiet meaning below 30 dB or 10 dB
// over the quietest block (so noisy recordings still have pauses); shorter
// gaps and pauses before `from` are not cuts; a steady sound has no pause.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sparq_longform.h"
#include "sparq_rng.h"

#define R 16000

// Tone everywhere except the gaps [a, b) seconds listed; noise of rms `noise` over all.
static float *make_audio(size_t n, const double *gaps, int ngaps, double noise, uint64_t *rng)
{
    float *x = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        double t = (double)i / R, v = 3000.0 * sin(2 * M_PI * 220.0 * t);
        for (int g = 0; g < ngaps; g++)
            if (t >= gaps[2 * g] && t < gaps[2 * g + 1])
                v = 0.0;
        x[i] = (float)(v + noise * sparq_rng_normal(rng));
    }
    return x;
}

int main(void)
{
    uint64_t rng = check_seed(5);
    size_t n = 8 * R;
    // A 50 ms gap at 2 s (too short), a 300 ms pause at 1.0 s (before `from`),
    // a 300 ms pause at 3.05..3.35 s and one at 6 s.
    const double gaps[] = { 2.0, 2.05, 1.0, 1.3, 3.05, 3.35, 6.0, 6.5 };
    float *x = make_audio(n, gaps, 4, 0.0, &rng);
    size_t at = sparq_longform_pause(x, n, (size_t)(1.5 * R), 160, 12);
    CHECK(at >= (size_t)(3.15 * R) && at <= (size_t)(3.25 * R), "first pause after 1.5 s: cut at %.3f s (3.2)",
          (double)at / R);
    at = sparq_longform_pause(x, n, (size_t)(0.5 * R), 160, 12);
    CHECK(at >= (size_t)(1.1 * R) && at <= (size_t)(1.2 * R), "from 0.5 s the pause at 1.0..1.3 s: %.3f s",
          (double)at / R);
    at = sparq_longform_pause(x, n, (size_t)(6.5 * R), 160, 12);
    CHECK(at == n, "no pause centred after 6.5 s: n (%zu)", at);
    free(x);
    // Noise at 40 dB (rms 100): the gaps are not below 30 dB, but 10 dB over the floor.
    x = make_audio(n, gaps, 4, 100.0, &rng);
    at = sparq_longform_pause(x, n, (size_t)(1.5 * R), 160, 12);
    CHECK(at >= (size_t)(3.15 * R) && at <= (size_t)(3.25 * R), "noisy recording: cut at %.3f s (3.2)",
          (double)at / R);
    free(x);
    const double none[] = { 0, 0 };
    x = make_audio(n, none, 0, 0.0, &rng);
    at = sparq_longform_pause(x, n, 0, 160, 12);
    CHECK(at == n, "continuous tone: no pause");
    free(x);
    return check_done();
}
