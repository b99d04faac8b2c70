// sparq_fbank_plan_run's fast frame preparation (one pass for DC removal,
// pre-emphasis and window; the frame mean in eight chains when every sample
// is an integer, where any order is exact) gives the bits of the three-pass,
// sequential-sum definition written out below (the features of session 7),
// on int16-scale audio (the fast sum) and on audio it must not take that
// path for (fractions, huge values, dither), with and without snip_edges, DC
// removal and pre-emphasis, on signals shorter than a frame.
#include <float.h>
#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sparq_fbank.h"
#include "sparq_rng.h"

static uint64_t rng;

// The definition: HEAD's plan and frame loop (fbank.c before session 8).
static double mel_scale(double f)
{
    return 1127.0 * log(1.0 + f / 700.0);
}

static void reference(const struct sparq_fbank_options *o, const float *samples, size_t count, uint64_t seed,
                      float *feats, int frames)
{
    int win = (int)(o->sample_rate * o->frame_length_ms * 0.001),
        shift = (int)(o->sample_rate * o->frame_shift_ms * 0.001);
    int nfft = 1;
    while (nfft < win)
        nfft <<= 1;
    int nbins = nfft / 2 + 1, nm = o->num_mel_bins;
    double *window = malloc(sizeof(double) * win), *mel = calloc((size_t)nm * nbins, sizeof(double));
    double *frame = fftw_malloc(sizeof(double) * nfft), *power = malloc(sizeof(double) * nbins);
    fftw_complex *spec = fftw_malloc(sizeof(fftw_complex) * nbins);
    fftw_plan fft = fftw_plan_dft_r2c_1d(nfft, frame, spec, FFTW_ESTIMATE | FFTW_UNALIGNED);
    for (int i = 0; i < win; i++)
        window[i] = pow(0.5 - 0.5 * cos(2.0 * M_PI * i / (win - 1)), 0.85);
    double nyquist = 0.5 * o->sample_rate, high = o->high_freq <= 0.0f ? nyquist + o->high_freq : o->high_freq;
    double mlo = mel_scale(o->low_freq), mhi = mel_scale(high), delta = (mhi - mlo) / (nm + 1);
    double bin_width = (double)o->sample_rate / nfft;
    for (int m = 0; m < nm; m++) {
        double left = mlo + m * delta, centre = mlo + (m + 1) * delta, right = mlo + (m + 2) * delta;
        for (int k = 0; k < nfft / 2; k++) {
            double me = mel_scale(bin_width * k);
            double w = fmax(0.0, fmin((me - left) / (centre - left), (right - me) / (right - centre)));
            if (w > 0.0)
                mel[(size_t)m * nbins + k] = w;
        }
    }
    uint64_t r = seed;
    for (int t = 0; t < frames; t++) {
        long start = o->snip_edges ? (long)t * shift : (long)t * shift + shift / 2 - win / 2;
        for (int i = 0; i < win; i++) {
            long s = start + i;
            if (s < 0)
                s = -s - 1;
            if (s >= (long)count)
                s = 2 * (long)count - 1 - s;
            if (s < 0)
                s = 0;
            frame[i] = samples[s];
        }
        if (o->dither != 0.0f)
            for (int i = 0; i < win; i += 2) {
                double u1 = sparq_rng_uniform(&r), u2 = sparq_rng_uniform(&r);
                double rr = sqrt(-2.0 * log(u1 > 1e-300 ? u1 : 1e-300)), a = 2.0 * M_PI * u2;
                frame[i] += o->dither * rr * cos(a);
                if (i + 1 < win)
                    frame[i + 1] += o->dither * rr * sin(a);
            }
        if (o->remove_dc_offset) {
            double mean = 0.0;
            for (int i = 0; i < win; i++)
                mean += frame[i];
            mean /= win;
            for (int i = 0; i < win; i++)
                frame[i] -= mean;
        }
        if (o->preemph != 0.0f) {
            for (int i = win - 1; i > 0; i--)
                frame[i] -= o->preemph * frame[i - 1];
            frame[0] -= o->preemph * frame[0];
        }
        for (int i = 0; i < win; i++)
            frame[i] *= window[i];
        for (int i = win; i < nfft; i++)
            frame[i] = 0.0;
        fftw_execute_dft_r2c(fft, frame, spec);
        for (int k = 0; k < nbins; k++)
            power[k] = spec[k][0] * spec[k][0] + spec[k][1] * spec[k][1];
        for (int m = 0; m < nm; m++) {
            double e = 0.0;
            for (int k = 0; k < nbins; k++) // the zero weights add +0.0: the same sum
                if (mel[(size_t)m * nbins + k] > 0.0)
                    e += mel[(size_t)m * nbins + k] * power[k];
            feats[(size_t)t * nm + m] = (float)log(fmax(e, FLT_EPSILON));
        }
    }
    fftw_destroy_plan(fft);
    fftw_free(frame);
    fftw_free(spec);
    free(window);
    free(mel);
    free(power);
}

// kind 0: int16-scale integers; 1: with fractions; 2: 2^40-scale integers among thirds; 3: integers, tiny levels
static void make_audio(float *x, size_t n, int kind)
{
    for (size_t i = 0; i < n; i++) {
        double v = 20000.0 * sin(0.01 * (double)i * (1 + kind)) + (double)(sparq_rng_next(&rng) % 2001) - 1000.0;
        x[i] = kind == 3 ? (float)(sparq_rng_next(&rng) % 5) - 2.0f : (float)rint(v);
        if (kind == 1)
            x[i] += 0.25f * (float)(sparq_rng_next(&rng) % 4);
    }
    for (size_t i = 0; kind == 2 && i < n; i++) // sums that round: their order matters
        x[i] = i % 7 == 0 ? x[i] * 0x1p40f : x[i] + 1.0f / 3.0f;
}

int main(void)
{
    rng = check_seed(1810);
    int bad = 0, cases = 0, fast = 0;
    for (int iter = 0; iter < 48; iter++) {
        struct sparq_fbank_options o;
        sparq_fbank_default_options(&o);
        int kind = iter % 4, variant = iter / 4 % 6;
        o.snip_edges = variant != 1 && variant != 5;
        o.remove_dc_offset = variant != 2;
        o.preemph = variant == 3 ? 0.0f : 0.97f;
        o.dither = variant == 4 ? 1.0f : 0.0f;
        size_t n = variant == 5 ? 100 + sparq_rng_next(&rng) % 400 : 4000 + sparq_rng_next(&rng) % 20000;
        float *x = malloc(sizeof(float) * n);
        make_audio(x, n, kind);
        int frames = sparq_fbank_num_frames(n, &o), got_frames = -1;
        float *want = calloc((size_t)frames * o.num_mel_bins + 1, sizeof(float));
        float *got = calloc((size_t)frames * o.num_mel_bins + 1, sizeof(float));
        struct sparq_fbank_plan *p = NULL;
        sparq_fbank_plan_create(&p, &o);
        reference(&o, x, n, 77 + iter, want, frames);
        sparq_fbank_plan_run(p, x, n, 77 + iter, got, &got_frames);
        bad += got_frames != frames || memcmp(want, got, sizeof(float) * frames * o.num_mel_bins) != 0;
        cases++;
        fast += (kind == 0 || kind == 3) && o.dither == 0.0f && o.remove_dc_offset;
        sparq_fbank_plan_free(p);
        free(x);
        free(want);
        free(got);
    }
    CHECK(!bad,
          "fbank == the three-pass, sequential-sum definition bit for bit on %d signals (%d through the "
          "integer-sample sum; snip_edges, DC, pre-emphasis, dither, short signals): %d differ",
          cases, fast, bad);
    return check_done();
}
