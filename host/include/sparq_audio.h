// sparq-layer: data
// Audio loading through libsndfile: any format libsndfile reads (WAV, FLAC,
// OGG, AIFF, ...), returned as mono float samples at int16 scale
// (-32768..32767), which is what Kaldi and torchaudio.compliance.kaldi.fbank
// expect. See docs/data.md for what is converted and what is rejected.
#ifndef SPARQ_AUDIO_H
#define SPARQ_AUDIO_H

#include <stddef.h>
#include <stdint.h>

// What sparq_audio_probe() learns from a file header without decoding it.
struct sparq_audio_info {
    int rate;       // samples per second
    int channels;   // interleaved channels in the file
    int64_t frames; // samples per channel
    double seconds; // frames / rate
};

// Reads the header of `path`. Errors (naming the file): unreadable, not an
// audio format libsndfile knows, zero frames, rate or channels out of range.
int sparq_audio_probe(const char *path, struct sparq_audio_info *info);

// Loads `path` as mono float samples at int16 scale into a malloc'd array
// (*samples, caller frees) of *count samples.
//  - several channels are averaged (downmix);
//  - if target_rate > 0 and the file rate differs, the signal is resampled
//    with sparq_audio_resample(); target_rate <= 0 keeps the file rate
//    (then *rate_out, if not NULL, tells it);
//  - empty, unreadable, truncated (fewer frames decoded than the header
//    promises) or non-audio files fail with a message naming the file;
//  - a NaN or Inf sample (float formats) fails naming the file and the
//    sample index.
int sparq_audio_load(const char *path, int target_rate, float **samples, size_t *count);
int sparq_audio_load_ex(const char *path, int target_rate, float **samples, size_t *count, int *rate_out);

// Streaming read of a long file: sparq_audio_stream_open() checks the file
// like sparq_audio_probe() and fills *info (rate = output rate, frames =
// mono samples it will deliver); sparq_audio_stream_read() fills up to `max`
// mono samples (same conversion as sparq_audio_load) and returns how many,
// 0 at the end, or a negative error (truncated file, non-finite sample).
// At the target rate the file is decoded chunk by chunk; a file that needs
// resampling is resampled whole on open.
struct sparq_audio_stream;
int sparq_audio_stream_open(const char *path, int target_rate, struct sparq_audio_stream **s,
                            struct sparq_audio_info *info);
long sparq_audio_stream_read(struct sparq_audio_stream *s, float *out, size_t max);
void sparq_audio_stream_close(struct sparq_audio_stream *s);

// Band-limited resampling by windowed-sinc interpolation (Hann window,
// 6 zero crossings, cutoff at 0.99 of the lower Nyquist frequency), the
// method of torchaudio.functional.resample's default "sinc_interp_hann".
// Output length is ceil(n * out_rate / in_rate). *out is malloc'd.
int sparq_audio_resample(const float *in, size_t n, int in_rate, int out_rate, float **out, size_t *out_n);

// Writes mono 16-bit PCM WAV atomically (temporary name + rename). Samples
// are at int16 scale and are clipped to -32768..32767.
int sparq_audio_write_wav16(const char *path, const float *samples, size_t count, int rate);

#endif
