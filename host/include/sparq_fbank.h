// sparq-layer: features
// Log-mel filterbank features equal to torchaudio.compliance.kaldi.fbank
// (and Kaldi's compute-fbank-feats) with the options below, plus global
// mean/variance normalisation (CMVN) and SpecAugment for training.
// Input samples are at int16 scale (see sparq_audio.h).
#ifndef SPARQ_FBANK_H
#define SPARQ_FBANK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

// Dither recommended for training features (docs/data.md explains the
// measurement behind it): TTS audio contains runs of exact digital zeros
// whose log mel energies would otherwise sit at log(FLT_EPSILON) = -15.9.
#define SPARQ_FBANK_TRAIN_DITHER 1.0f

struct sparq_fbank_options {
    int sample_rate;        // 16000
    int num_mel_bins;       // 80
    float frame_length_ms;  // 25
    float frame_shift_ms;   // 10
    float dither;           // 0 (torchaudio default); Gaussian noise stddev in int16 units
    uint64_t seed;          // dither noise seed: same seed + same audio -> same features
    float preemph;          // 0.97
    float low_freq;         // 20 Hz
    float high_freq;        // 0 = Nyquist; negative = Nyquist + high_freq
    int snip_edges;         // 1: only frames that fit completely (torchaudio/Kaldi default)
    int remove_dc_offset;   // 1
    int round_to_pow2;      // 1: FFT size = next power of two (512 for 400-sample frames)
};

// torchaudio.compliance.kaldi.fbank(num_mel_bins=80) defaults, dither 0.
void sparq_fbank_default_options(struct sparq_fbank_options *opt);

// Number of frames sparq_fbank_compute() yields for `count` samples.
int sparq_fbank_num_frames(size_t count, const struct sparq_fbank_options *opt);

// A reusable plan (FFT set-up, window, mel filters). Read-only after
// creation, so one plan may be shared by threads if each passes its own
// options seed; sparq_fbank_compute() builds a temporary one.
struct sparq_fbank_plan;
int sparq_fbank_plan_create(struct sparq_fbank_plan **plan, const struct sparq_fbank_options *opt);
void sparq_fbank_plan_free(struct sparq_fbank_plan *plan);
// Writes frames*num_mel_bins floats into feats (caller-allocated, at least
// sparq_fbank_num_frames() * num_mel_bins). Dither uses `seed`.
int sparq_fbank_plan_run(const struct sparq_fbank_plan *plan, const float *samples, size_t count, uint64_t seed,
                         float *feats, int *frames);

// One-shot: *feats (frames, num_mel_bins) is malloc'd, caller frees.
// Audio shorter than one frame gives *frames = 0 and a non-NULL *feats.
int sparq_fbank_compute(const float *samples, size_t count, const struct sparq_fbank_options *opt, float **feats,
                        int *frames);

// ---- Global CMVN: statistics accumulated over the training set ----------
struct sparq_cmvn {
    int dim;
    int64_t frames; // frames accumulated
    double *sum;    // (dim)
    double *sumsq;  // (dim)
    float *mean;    // (dim) valid after finalize/load
    float *istd;    // (dim) 1/sqrt(max(var, SPARQ_CMVN_VAR_FLOOR))
};
#define SPARQ_CMVN_VAR_FLOOR 1e-6

int sparq_cmvn_init(struct sparq_cmvn *c, int dim);
void sparq_cmvn_accumulate(struct sparq_cmvn *c, const float *feats, int frames); // feats (frames, dim)
int sparq_cmvn_finalize(struct sparq_cmvn *c); // fails if no frames
void sparq_cmvn_apply(const struct sparq_cmvn *c, float *feats, int frames); // (x - mean) * istd in place
// A small JSON file {"dim":..,"frames":..,"mean":[..],"istd":[..]} written atomically.
int sparq_cmvn_save(const struct sparq_cmvn *c, const char *path);
int sparq_cmvn_load(struct sparq_cmvn *c, const char *path);
void sparq_cmvn_free(struct sparq_cmvn *c);

// ---- SpecAugment (Park et al. 2019, without time warping) -----------------
struct sparq_specaug_options {
    int freq_masks;          // 2
    int freq_width;          // 27: each mask covers U[0, freq_width] bins
    int time_masks;          // 2 ... (capped so masks cover at most max_time_ratio)
    int time_width;          // 40: each mask covers U[0, min(time_width, ratio*T)] frames
    float time_width_ratio;  // 0.05
    float mask_value;        // 0 (= the mean after CMVN)
};
void sparq_specaug_default_options(struct sparq_specaug_options *opt);
// Masks feats (frames, dim) in place; random draws come from *rng (see
// sparq_rng_next), so a seed replays the same masks.
void sparq_specaugment(float *feats, int frames, int dim, const struct sparq_specaug_options *opt, uint64_t *rng);


#endif
