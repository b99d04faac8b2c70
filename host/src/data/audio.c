// Audio I/O through libsndfile; resampling by windowed sinc (see sparq_audio.h).
#include "sparq_audio.h"

#include <math.h>
#include <stdio.h>
#include <sndfile.h>
#include <stdlib.h>
#include <string.h>

#include "sparq_error.h"
#include "sparq_wire.h"

#define MAX_CHANNELS 64
#define MAX_RATE 384000

// libsndfile scales integer PCM to [-1, 1) in float reads; Kaldi works on the
// raw int16 values, so multiply back by 32768.
#define INT16_SCALE 32768.0f

// libsndfile quietly shrinks a WAV whose data chunk is shorter than its
// header says; its log then has "data : STATED (should be ACTUAL)". A stated
// size of 0 or 0xFFFFFFFF is a streamed file (size unknown), not truncation.
static int wav_truncated(SNDFILE *sf)
{
    char log[4096];
    sf_command(sf, SFC_GET_LOG_INFO, log, sizeof log);
    const char *p = strstr(log, "\ndata : ");
    if (!p)
        return 0;
    unsigned long long stated = 0, actual = 0;
    if (sscanf(p, "\ndata : %llu (should be %llu)", &stated, &actual) != 2)
        return 0;
    return stated > actual && stated < 0xFFFFFFF0ull;
}

static int open_checked(const char *path, SNDFILE **sf, SF_INFO *info)
{
    memset(info, 0, sizeof *info);
    *sf = sf_open(path, SFM_READ, info);
    if (!*sf)
        return sparq_fail(SPARQ_EFORMAT, "%s: cannot read audio: %s", path, sf_strerror(NULL));
    if (info->channels < 1 || info->channels > MAX_CHANNELS) {
        sf_close(*sf);
        return sparq_fail(SPARQ_EFORMAT, "%s: unsupported channel count %d", path, info->channels);
    }
    if (info->samplerate < 1000 || info->samplerate > MAX_RATE) {
        sf_close(*sf);
        return sparq_fail(SPARQ_EFORMAT, "%s: unsupported sample rate %d", path, info->samplerate);
    }
    if (info->frames <= 0) {
        sf_close(*sf);
        return sparq_fail(SPARQ_EFORMAT, "%s: empty audio (0 samples)", path);
    }
    if (wav_truncated(*sf)) {
        sf_close(*sf);
        return sparq_fail(SPARQ_EFORMAT, "%s: truncated audio (data chunk shorter than its header says)", path);
    }
    return SPARQ_OK;
}

// A float WAV may hold NaN or Inf; downstream they would turn into silence
// or garbage, so they are an error naming the first bad sample (per channel
// frame index, counted from the start of the file: `first` is the index of
// buf[0]).
static int check_finite(const char *path, const float *buf, size_t frames, int ch, size_t first)
{
    for (size_t i = 0; i < frames * (size_t)ch; i++)
        if (!isfinite(buf[i]))
            return sparq_fail(SPARQ_EFORMAT, "%s: non-finite sample (%s) at index %zu, channel %d", path,
                              isnan(buf[i]) ? "NaN" : "Inf", first + i / (size_t)ch, (int)(i % (size_t)ch));
    return SPARQ_OK;
}

// A finite float sample near FLT_MAX overflows to Inf once scaled to int16
// range, averaged or resampled: checked again on the converted samples.
static int check_converted(const char *path, const float *x, size_t n, size_t first)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return sparq_fail(SPARQ_EFORMAT, "%s: sample at index %zu is too large (overflows after conversion)",
                              path, first + i);
    return SPARQ_OK;
}

int sparq_audio_probe(const char *path, struct sparq_audio_info *out)
{
    SNDFILE *sf;
    SF_INFO info;
    int rc = open_checked(path, &sf, &info);
    if (rc)
        return rc;
    sf_close(sf);
    out->rate = info.samplerate;
    out->channels = info.channels;
    out->frames = info.frames;
    out->seconds = (double)info.frames / info.samplerate;
    return SPARQ_OK;
}

int sparq_audio_load_ex(const char *path, int target_rate, float **samples, size_t *count, int *rate_out)
{
    *samples = NULL;
    *count = 0;
    SNDFILE *sf;
    SF_INFO info;
    int rc = open_checked(path, &sf, &info);
    if (rc)
        return rc;
    size_t frames = (size_t)info.frames;
    int ch = info.channels;
    float *buf = sparq_malloc(frames * (size_t)ch * sizeof(float), path);
    if (!buf) {
        sf_close(sf);
        return SPARQ_ENOMEM;
    }
    sf_count_t got = sf_readf_float(sf, buf, (sf_count_t)frames);
    sf_close(sf);
    if (got != (sf_count_t)frames) {
        free(buf);
        return sparq_fail(SPARQ_EFORMAT, "%s: truncated audio: header promises %zu samples, decoded %lld", path,
                          frames, (long long)got);
    }
    if ((rc = check_finite(path, buf, frames, ch, 0))) {
        free(buf);
        return rc;
    }
    // Downmix in place: average the channels.
    for (size_t i = 0; i < frames; i++) {
        float s = 0.0f;
        for (int c = 0; c < ch; c++)
            s += buf[i * (size_t)ch + (size_t)c];
        buf[i] = s / (float)ch * INT16_SCALE;
    }
    int rate = info.samplerate;
    if ((rc = check_converted(path, buf, frames, 0))) {
        free(buf);
        return rc;
    }
    if (target_rate > 0 && target_rate != rate) {
        float *out;
        size_t n;
        rc = sparq_audio_resample(buf, frames, rate, target_rate, &out, &n);
        free(buf);
        if (rc)
            return rc;
        buf = out;
        frames = n;
        rate = target_rate;
        if ((rc = check_converted(path, buf, frames, 0))) {
            free(buf);
            return rc;
        }
    } else if (ch > 1) {
        float *shrunk = realloc(buf, frames * sizeof(float));
        if (shrunk)
            buf = shrunk;
    }
    *samples = buf;
    *count = frames;
    if (rate_out)
        *rate_out = rate;
    return SPARQ_OK;
}

int sparq_audio_load(const char *path, int target_rate, float **samples, size_t *count)
{
    return sparq_audio_load_ex(path, target_rate, samples, count, NULL);
}

// Streaming reads: a file already at the target rate is decoded chunk by
// chunk (memory bounded by the caller's buffer); one that needs resampling
// is loaded and resampled whole (the resampler is not incremental), then
// served from memory.
struct sparq_audio_stream {
    char *path;
    SNDFILE *sf;        // NULL when served from `whole`
    int channels;
    size_t total, pos;  // mono samples at the output rate: promised, delivered
    float *whole;       // resampled file (NULL when streaming)
    float *chunk;       // interleaved read buffer (streaming)
};

#define STREAM_CHUNK 4096

int sparq_audio_stream_open(const char *path, int target_rate, struct sparq_audio_stream **out,
                            struct sparq_audio_info *info_out)
{
    *out = NULL;
    SNDFILE *sf;
    SF_INFO info;
    int rc = open_checked(path, &sf, &info);
    if (rc)
        return rc;
    struct sparq_audio_stream *s = calloc(1, sizeof *s);
    char *name = strdup(path);
    if (!s || !name) {
        sf_close(sf);
        free(s);
        free(name);
        return sparq_fail(SPARQ_ENOMEM, "%s: out of memory", path);
    }
    s->path = name;
    s->channels = info.channels;
    if (target_rate > 0 && target_rate != info.samplerate) {
        sf_close(sf);
        rc = sparq_audio_load(path, target_rate, &s->whole, &s->total);
    } else {
        s->sf = sf;
        s->total = (size_t)info.frames;
        s->chunk = sparq_malloc(STREAM_CHUNK * (size_t)info.channels * sizeof(float), path);
        rc = s->chunk ? SPARQ_OK : SPARQ_ENOMEM;
    }
    if (rc) {
        sparq_audio_stream_close(s);
        return rc;
    }
    if (info_out) {
        info_out->rate = target_rate > 0 ? target_rate : info.samplerate;
        info_out->channels = info.channels;
        info_out->frames = (int64_t)s->total;
        info_out->seconds = (double)s->total / info_out->rate;
    }
    *out = s;
    return SPARQ_OK;
}

long sparq_audio_stream_read(struct sparq_audio_stream *s, float *out, size_t max)
{
    size_t n = 0;
    if (s->whole) {
        n = s->total - s->pos < max ? s->total - s->pos : max;
        memcpy(out, s->whole + s->pos, n * sizeof(float));
        s->pos += n;
        return (long)n;
    }
    const size_t ch = (size_t)s->channels;
    while (n < max && s->pos < s->total) {
        size_t want = max - n < STREAM_CHUNK ? max - n : STREAM_CHUNK;
        sf_count_t got = sf_readf_float(s->sf, s->chunk, (sf_count_t)want);
        if (got <= 0)
            return sparq_fail(SPARQ_EFORMAT, "%s: truncated audio: header promises %zu samples, decoded %zu",
                              s->path, s->total, s->pos);
        int rc = check_finite(s->path, s->chunk, (size_t)got, (int)ch, s->pos);
        if (rc)
            return rc;
        for (size_t i = 0; i < (size_t)got; i++) {
            float v = 0.0f;
            for (size_t c = 0; c < ch; c++)
                v += s->chunk[i * ch + c];
            out[n + i] = v / (float)ch * INT16_SCALE;
        }
        if ((rc = check_converted(s->path, out + n, (size_t)got, s->pos)))
            return rc;
        n += (size_t)got;
        s->pos += (size_t)got;
    }
    return (long)n;
}

void sparq_audio_stream_close(struct sparq_audio_stream *s)
{
    if (!s)
        return;
    if (s->sf)
        sf_close(s->sf);
    free(s->whole);
    free(s->chunk);
    free(s->path);
    free(s);
}

static long gcd_long(long a, long b)
{
    while (b) {
        long t = a % b;
        a = b;
        b = t;
    }
    return a;
}

// Same kernel as torchaudio.functional.resample (sinc_interp_hann,
// lowpass_filter_width 6, rolloff 0.99): y[j] = sum_m x[m] * h((m/orig -
// j/new) * base) over the reduced rates orig/new, with h tabulated per phase.
#define RESAMPLE_ZEROS 6
#define RESAMPLE_ROLLOFF 0.99

int sparq_audio_resample(const float *in, size_t n, int in_rate, int out_rate, float **out, size_t *out_n)
{
    *out = NULL;
    *out_n = 0;
    if (in_rate <= 0 || out_rate <= 0)
        return sparq_fail(SPARQ_EINVAL, "resample: bad rates %d -> %d", in_rate, out_rate);
    long g = gcd_long(in_rate, out_rate);
    long orig = in_rate / g, neww = out_rate / g;
    size_t m_out = (size_t)((n * (unsigned long long)neww + (unsigned long long)orig - 1) / (unsigned long long)orig);
    float *y = sparq_malloc(m_out * sizeof(float), "resampled audio");
    if (!y)
        return SPARQ_ENOMEM;
    if (orig == neww) {
        memcpy(y, in, n * sizeof(float));
        *out = y;
        *out_n = n;
        return SPARQ_OK;
    }
    double base = (orig < neww ? orig : neww) * RESAMPLE_ROLLOFF;
    double scale = base / (double)orig;
    double reach = RESAMPLE_ZEROS * (double)orig / base; // input samples either side
    // Output j = k*new + p sits at input position k*orig + p*orig/new, so
    // each of the `new` phases has one fixed set of `taps` weights.
    long taps = (long)floor(2.0 * reach) + 2;
    if ((double)neww * (double)taps > 4e6) {
        // Odd rate pairs (e.g. 383999 -> 16000 Hz) have too many phases to
        // tabulate: evaluate the same kernel per output sample instead.
        for (size_t j = 0; j < m_out; j++) {
            double centre = (double)j * (double)orig / (double)neww;
            long lo = (long)ceil(centre - reach), hi = (long)floor(centre + reach);
            double acc = 0.0;
            for (long m = lo < 0 ? 0 : lo; m <= hi && m < (long)n; m++) {
                double t = ((double)m - centre) / (double)orig * base;
                if (t < -RESAMPLE_ZEROS || t > RESAMPLE_ZEROS)
                    continue;
                double c = cos(t * M_PI / RESAMPLE_ZEROS / 2.0);
                acc += in[m] * (t == 0.0 ? 1.0 : sin(M_PI * t) / (M_PI * t)) * c * c * scale;
            }
            y[j] = (float)acc;
        }
        *out = y;
        *out_n = m_out;
        return SPARQ_OK;
    }
    double *w = sparq_malloc((size_t)neww * (size_t)taps * sizeof(double), "resampling filter");
    long *first = sparq_malloc((size_t)neww * sizeof(long), "resampling filter");
    if (!w || !first) {
        free(w);
        free(first);
        free(y);
        return SPARQ_ENOMEM;
    }
    for (long p = 0; p < neww; p++) {
        double centre = (double)p * (double)orig / (double)neww;
        first[p] = (long)ceil(centre - reach);
        for (long i = 0; i < taps; i++) {
            double t = ((double)(first[p] + i) - centre) / (double)orig * base;
            double v = 0.0;
            if (t >= -RESAMPLE_ZEROS && t <= RESAMPLE_ZEROS) {
                double c = cos(t * M_PI / RESAMPLE_ZEROS / 2.0);
                v = (t == 0.0 ? 1.0 : sin(M_PI * t) / (M_PI * t)) * c * c * scale;
            }
            w[p * taps + i] = v;
        }
    }
    for (size_t j = 0; j < m_out; j++) {
        long p = (long)(j % (size_t)neww);
        long start = (long)(j / (size_t)neww) * orig + first[p];
        const double *wp = w + p * taps;
        double acc = 0.0;
        if (start >= 0 && start + taps <= (long)n) {
            for (long i = 0; i < taps; i++)
                acc += in[start + i] * wp[i];
        } else {
            for (long i = 0; i < taps; i++)
                if (start + i >= 0 && start + i < (long)n)
                    acc += in[start + i] * wp[i];
        }
        y[j] = (float)acc;
    }
    free(w);
    free(first);
    *out = y;
    *out_n = m_out;
    return SPARQ_OK;
}

int sparq_audio_write_wav16(const char *path, const float *samples, size_t count, int rate)
{
    if (count > (0xFFFFFFFFu - 44) / 2)
        return sparq_fail(SPARQ_EINVAL, "%s: audio too long for WAV", path);
    size_t bytes = 44 + count * 2;
    unsigned char *b = sparq_malloc(bytes, path);
    if (!b)
        return SPARQ_ENOMEM;
    memcpy(b, "RIFF", 4);
    sparq_wr32(b + 4, (uint32_t)(bytes - 8));
    memcpy(b + 8, "WAVEfmt ", 8);
    sparq_wr32(b + 16, 16);
    sparq_wr16(b + 20, 1); // PCM
    sparq_wr16(b + 22, 1); // mono
    sparq_wr32(b + 24, (uint32_t)rate);
    sparq_wr32(b + 28, (uint32_t)rate * 2);
    sparq_wr16(b + 32, 2);
    sparq_wr16(b + 34, 16);
    memcpy(b + 36, "data", 4);
    sparq_wr32(b + 40, (uint32_t)(count * 2));
    for (size_t i = 0; i < count; i++) {
        float v = roundf(samples[i]);
        if (v > 32767.0f)
            v = 32767.0f;
        if (v < -32768.0f)
            v = -32768.0f;
        sparq_wr16(b + 44 + 2 * i, (uint32_t)(uint16_t)(int16_t)v);
    }
    int rc = sparq_write_file_atomic(path, b, bytes);
    free(b);
    return rc;
}
