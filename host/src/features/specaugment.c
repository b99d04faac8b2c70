// SpecAugment frequency and time masks (Park et al. 2019, no time warp).
#include <string.h>

#include "sparq_fbank.h"
#include "sparq_rng.h"

void sparq_specaug_default_options(struct sparq_specaug_options *o)
{
    memset(o, 0, sizeof *o);
    o->freq_masks = 2;
    o->freq_width = 27;
    o->time_masks = 2;
    o->time_width = 40;
    o->time_width_ratio = 0.05f;
    o->mask_value = 0.0f;
}

static int draw(uint64_t *rng, int hi) // uniform in [0, hi]
{
    if (hi <= 0)
        return 0;
    return (int)(sparq_rng_next(rng) % (uint64_t)(hi + 1));
}

void sparq_specaugment(float *feats, int frames, int dim, const struct sparq_specaug_options *o, uint64_t *rng)
{
    if (frames <= 0 || dim <= 0)
        return;
    for (int m = 0; m < o->freq_masks; m++) {
        int w = draw(rng, o->freq_width < dim ? o->freq_width : dim);
        int f0 = draw(rng, dim - w);
        for (int t = 0; t < frames; t++)
            for (int d = f0; d < f0 + w; d++)
                feats[(size_t)t * (size_t)dim + (size_t)d] = o->mask_value;
    }
    int tmax = (int)(o->time_width_ratio * (float)frames);
    if (tmax > o->time_width)
        tmax = o->time_width;
    for (int m = 0; m < o->time_masks; m++) {
        int w = draw(rng, tmax);
        int t0 = draw(rng, frames - w);
        for (int t = t0; t < t0 + w; t++)
            for (int d = 0; d < dim; d++)
                feats[(size_t)t * (size_t)dim + (size_t)d] = o->mask_value;
    }
}
