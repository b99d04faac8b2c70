// Log-mel fbank, step for step as torchaudio.compliance.kaldi.fbank:
// frame (snip edges) -> dither -> remove DC -> pre-emphasis -> povey window
// -> zero-pad -> |rfft|^2 -> mel filters -> log(max(., FLT_EPSILON)).
// Everything runs in double precision (FFTW): torchaudio's own float32 result
// differs from its float64 result by up to 3e-3 in quiet mel bins of TTS
// audio, and a float32 FFT here (KISS FFT) differs by as much again, so only
// double arithmetic stays within the 1e-3 bound of the fixtures (which
// torchaudio computes in float64; docs/data.md).
#include "sparq_fbank.h"

#include <float.h>
#include <fftw3.h>
#include <pthread.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sparq_error.h"
#include "sparq_rng.h"

struct sparq_fbank_plan {
    struct sparq_fbank_options opt;
    int win;        // samples per frame (400)
    int shift;      // samples between frames (160)
    int nfft;       // padded frame (512)
    int nbins;      // nfft / 2 + 1
    double *window; // (win) povey window
    double *mel;    // (num_mel_bins, nbins) triangular filters
    int *mel_lo;    // (num_mel_bins) first non-zero bin
    int *mel_hi;    // (num_mel_bins) one past the last non-zero bin
    fftw_plan fft;  // r2c of nfft doubles, executed with new arrays (thread-safe)
};

// FFTW's planner is not thread-safe; plan execution is.
static pthread_mutex_t planner_lock = PTHREAD_MUTEX_INITIALIZER;

void sparq_fbank_default_options(struct sparq_fbank_options *o)
{
    memset(o, 0, sizeof *o);
    o->sample_rate = 16000;
    o->num_mel_bins = 80;
    o->frame_length_ms = 25.0f;
    o->frame_shift_ms = 10.0f;
    o->dither = 0.0f;
    o->seed = 0;
    o->preemph = 0.97f;
    o->low_freq = 20.0f;
    o->high_freq = 0.0f;
    o->snip_edges = 1;
    o->remove_dc_offset = 1;
    o->round_to_pow2 = 1;
}

static int frame_sizes(const struct sparq_fbank_options *o, int *win, int *shift)
{
    // torchaudio: int(sample_frequency * frame_length * 0.001)
    *win = (int)(o->sample_rate * o->frame_length_ms * 0.001);
    *shift = (int)(o->sample_rate * o->frame_shift_ms * 0.001);
    if (*win < 2 || *shift < 1)
        return sparq_fail(SPARQ_EINVAL, "fbank: frame length %g ms / shift %g ms at %d Hz give no samples",
                          o->frame_length_ms, o->frame_shift_ms, o->sample_rate);
    return SPARQ_OK;
}

int sparq_fbank_num_frames(size_t count, const struct sparq_fbank_options *o)
{
    int win, shift;
    if (frame_sizes(o, &win, &shift))
        return 0;
    if (o->snip_edges) {
        if (count < (size_t)win)
            return 0;
        return (int)(1 + (count - (size_t)win) / (size_t)shift);
    }
    return (int)((count + (size_t)shift / 2) / (size_t)shift);
}

static double mel_scale(double f) { return 1127.0 * log(1.0 + f / 700.0); }

int sparq_fbank_plan_create(struct sparq_fbank_plan **out, const struct sparq_fbank_options *o)
{
    *out = NULL;
    int win, shift;
    int rc = frame_sizes(o, &win, &shift);
    if (rc)
        return rc;
    if (o->num_mel_bins < 3 || o->num_mel_bins > 1024)
        return sparq_fail(SPARQ_EINVAL, "fbank: num_mel_bins %d out of range 3..1024", o->num_mel_bins);
    int nfft = win;
    if (o->round_to_pow2) {
        nfft = 1;
        while (nfft < win)
            nfft <<= 1;
    }
    if (nfft % 2)
        return sparq_fail(SPARQ_EINVAL, "fbank: FFT size %d must be even (use round_to_pow2)", nfft);
    double nyquist = 0.5 * o->sample_rate;
    double high = o->high_freq <= 0.0f ? nyquist + o->high_freq : o->high_freq;
    double low = o->low_freq;
    if (low < 0.0 || high > nyquist || low >= high)
        return sparq_fail(SPARQ_EINVAL, "fbank: bad mel range low %g high %g (nyquist %g)", low, high, nyquist);

    struct sparq_fbank_plan *p = sparq_calloc(1, sizeof *p, "fbank plan");
    if (!p)
        return SPARQ_ENOMEM;
    p->opt = *o;
    p->win = win;
    p->shift = shift;
    p->nfft = nfft;
    p->nbins = nfft / 2 + 1;
    int nm = o->num_mel_bins;
    p->window = sparq_malloc((size_t)win * sizeof(double), "fbank window");
    p->mel = sparq_calloc((size_t)nm * (size_t)p->nbins, sizeof(double), "mel filters");
    p->mel_lo = sparq_malloc((size_t)nm * sizeof(int), "mel filters");
    p->mel_hi = sparq_malloc((size_t)nm * sizeof(int), "mel filters");
    double *in = fftw_malloc(sizeof(double) * (size_t)nfft);
    fftw_complex *spec = fftw_malloc(sizeof(fftw_complex) * (size_t)p->nbins);
    if (in && spec) {
        pthread_mutex_lock(&planner_lock);
        p->fft = fftw_plan_dft_r2c_1d(nfft, in, spec, FFTW_ESTIMATE | FFTW_UNALIGNED);
        pthread_mutex_unlock(&planner_lock);
    }
    fftw_free(in);
    fftw_free(spec);
    if (!p->window || !p->mel || !p->mel_lo || !p->mel_hi || !p->fft) {
        sparq_fbank_plan_free(p);
        return sparq_fail(SPARQ_ENOMEM, "fbank: out of memory for plan (nfft %d)", nfft);
    }
    // Povey window: symmetric Hann raised to 0.85.
    for (int i = 0; i < win; i++)
        p->window[i] = pow(0.5 - 0.5 * cos(2.0 * M_PI * i / (win - 1)), 0.85);

    // Triangular filters equally spaced on the mel scale; the Nyquist bin
    // gets weight 0 (torchaudio pads the filter matrix with a zero column).
    double mlo = mel_scale(low), mhi = mel_scale(high);
    double delta = (mhi - mlo) / (nm + 1);
    double bin_width = (double)o->sample_rate / nfft;
    for (int m = 0; m < nm; m++) {
        double left = mlo + m * delta, centre = mlo + (m + 1) * delta, right = mlo + (m + 2) * delta;
        int lo = p->nbins, hi = 0;
        for (int k = 0; k < nfft / 2; k++) {
            double mel = mel_scale(bin_width * k);
            double up = (mel - left) / (centre - left);
            double down = (right - mel) / (right - centre);
            double w = fmax(0.0, fmin(up, down));
            if (w > 0.0) {
                p->mel[(size_t)m * (size_t)p->nbins + (size_t)k] = w;
                if (k < lo)
                    lo = k;
                hi = k + 1;
            }
        }
        if (hi == 0)
            lo = 0;
        p->mel_lo[m] = lo;
        p->mel_hi[m] = hi;
    }
    *out = p;
    return SPARQ_OK;
}

void sparq_fbank_plan_free(struct sparq_fbank_plan *p)
{
    if (!p)
        return;
    free(p->window);
    free(p->mel);
    free(p->mel_lo);
    free(p->mel_hi);
    if (p->fft) {
        pthread_mutex_lock(&planner_lock);
        fftw_destroy_plan(p->fft);
        pthread_mutex_unlock(&planner_lock);
    }
    free(p);
}

// True when every sample is an integer of magnitude <= 2^31 (int16-scale
// audio always is): then any sum of up to win <= 2^20 of them is an integer
// below 2^51, exact in double whatever the order.
static int integer_samples(const float *x, size_t n, int win)
{
    if (win > (1 << 20))
        return 0;
    int ok = 1;
#pragma omp simd reduction(& : ok)
    for (size_t i = 0; i < n; i++)
        ok &= fabsf(x[i]) <= 0x1p31f && x[i] == truncf(x[i]); // NaN and inf fail
    return ok;
}

// Sum in eight independent chains (the sequential sum waits on each add).
static double exact_sum(const double *x, int n)
{
    double a[8] = { 0 };
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++)
            a[j] += x[i + j];
    for (; i < n; i++)
        a[0] += x[i];
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

// DC removal (mean 0 when off), pre-emphasis and the window in one pass, the
// same operations per sample as three passes: out[i] = (d[i] - preemph *
// d[i-1]) * window[i] with d = frame - mean (d[-1] = d[0]); zero padding.
static void prepare_frame(double *frame, const struct sparq_fbank_plan *p, double mean)
{
    const struct sparq_fbank_options *o = &p->opt;
    const int win = p->win, dc = o->remove_dc_offset;
    const double pre = o->preemph, *w = p->window;
    if (dc)
        for (int i = 0; i < win; i++)
            frame[i] -= mean;
    if (o->preemph != 0.0f) {
        const double first = frame[0] - pre * frame[0];
        // Descending, so each frame[i - 1] is still the one before emphasis.
        for (int i = win - 1; i > 0; i--)
            frame[i] = (frame[i] - pre * frame[i - 1]) * w[i];
        frame[0] = first * w[0];
    } else
        for (int i = 0; i < win; i++)
            frame[i] *= w[i];
    for (int i = win; i < p->nfft; i++)
        frame[i] = 0.0;
}

int sparq_fbank_plan_run(const struct sparq_fbank_plan *p, const float *samples, size_t count, uint64_t seed,
                         float *feats, int *frames_out)
{
    const struct sparq_fbank_options *o = &p->opt;
    int frames = sparq_fbank_num_frames(count, o);
    *frames_out = 0;
    if (frames == 0)
        return SPARQ_OK;
    int nm = o->num_mel_bins;
    double *frame = fftw_malloc((size_t)p->nfft * sizeof(double));
    fftw_complex *spec = fftw_malloc((size_t)p->nbins * sizeof(fftw_complex));
    double *power = sparq_malloc((size_t)p->nbins * sizeof(double), "fbank power");
    if (!frame || !spec || !power) {
        fftw_free(frame);
        fftw_free(spec);
        free(power);
        return sparq_fail(SPARQ_ENOMEM, "fbank: out of memory for frame buffers");
    }
    uint64_t rng = seed;
    const int exact = o->dither == 0.0f && o->remove_dc_offset && integer_samples(samples, count, p->win);
    for (int t = 0; t < frames; t++) {
        // Frame start: snip_edges frames start at t*shift; otherwise Kaldi
        // centres frames and reflects the signal at the edges.
        long start = o->snip_edges ? (long)t * p->shift : (long)t * p->shift + p->shift / 2 - p->win / 2;
        if (start >= 0 && start + p->win <= (long)count) { // inside the signal: no reflection
            const float *src = samples + start;
#pragma omp simd
            for (int i = 0; i < p->win; i++)
                frame[i] = src[i];
        } else
            for (int i = 0; i < p->win; i++) {
                long s = start + i;
                if (s < 0)
                    s = -s - 1;
                if (s >= (long)count)
                    s = 2 * (long)count - 1 - s;
                if (s < 0) // only for signals shorter than half a frame
                    s = 0;
                frame[i] = samples[s];
            }
        if (o->dither != 0.0f)
            for (int i = 0; i < p->win; i += 2) {
                // Box-Muller gives two independent normals per draw.
                double u1 = sparq_rng_uniform(&rng), u2 = sparq_rng_uniform(&rng);
                double r = sqrt(-2.0 * log(u1 > 1e-300 ? u1 : 1e-300)), a = 2.0 * M_PI * u2;
                frame[i] += o->dither * r * cos(a);
                if (i + 1 < p->win)
                    frame[i + 1] += o->dither * r * sin(a);
            }
        double mean = 0.0;
        if (exact) // every partial sum is exact: any order gives the sequential sum's bits
            mean = exact_sum(frame, p->win) / p->win;
        else if (o->remove_dc_offset) {
            for (int i = 0; i < p->win; i++)
                mean += frame[i];
            mean /= p->win;
        }
        prepare_frame(frame, p, mean);
        fftw_execute_dft_r2c(p->fft, frame, spec);
        for (int k = 0; k < p->nbins; k++)
            power[k] = spec[k][0] * spec[k][0] + spec[k][1] * spec[k][1];
        float *row = feats + (size_t)t * (size_t)nm;
        for (int m = 0; m < nm; m++) {
            const double *w = p->mel + (size_t)m * (size_t)p->nbins;
            double e = 0.0;
            for (int k = p->mel_lo[m]; k < p->mel_hi[m]; k++)
                e += w[k] * power[k];
            row[m] = (float)log(fmax(e, FLT_EPSILON));
        }
    }
    fftw_free(frame);
    fftw_free(spec);
    free(power);
    *frames_out = frames;
    return SPARQ_OK;
}

int sparq_fbank_compute(const float *samples, size_t count, const struct sparq_fbank_options *o, float **feats,
                        int *frames)
{
    *feats = NULL;
    *frames = 0;
    struct sparq_fbank_plan *p;
    int rc = sparq_fbank_plan_create(&p, o);
    if (rc)
        return rc;
    int n = sparq_fbank_num_frames(count, o);
    float *f = sparq_malloc((size_t)n * (size_t)o->num_mel_bins * sizeof(float), "fbank features");
    if (!f) {
        sparq_fbank_plan_free(p);
        return SPARQ_ENOMEM;
    }
    rc = sparq_fbank_plan_run(p, samples, count, o->seed, f, frames);
    sparq_fbank_plan_free(p);
    if (rc) {
        free(f);
        return rc;
    }
    *feats = f;
    return SPARQ_OK;
}
