// sparq-command: bench-features: feature extraction speed (fbank, dither, resampling, WAV loading)
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sparq_audio.h"
#include "sparq_clock.h"
#include "sparq_error.h"
#include "sparq_parse.h"
#include "sparq_fbank.h"
#include "sparq_rng.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: sparq bench-features [--seconds S] [--repeat N] [--json FILE]\n"
                 "Times, on one thread, each step that turns audio into training features, on S seconds\n"
                 "(default 60) of synthetic speech-like audio (a seeded mix of harmonic chirps, noise and\n"
                 "digital silence). Prints audio seconds processed per wall second (best of N runs,\n"
                 "default 3) and writes the same as JSON (default build/bench/features.json).\n"
                 "  -s, --seconds S  audio length\n"
                 "  -r, --repeat N   runs per measurement\n"
                 "  -j, --json FILE  JSON output\n"
                 "  -h, --help       this text\n");
}

// Voiced chirps with harmonics, noise bursts, and 20% exact zeros.
static void synth(float *x, size_t n, int rate, uint64_t seed)
{
    uint64_t rng = seed;
    double phase = 0;
    for (size_t i = 0; i < n; i++) {
        double t = (double)i / rate;
        double seg = fmod(t, 1.0);
        if (seg > 0.8) {
            x[i] = 0.0f;
            continue;
        }
        double f0 = 100 + 60 * sin(2 * M_PI * 0.7 * t);
        phase += 2 * M_PI * f0 / rate;
        double v = 0;
        for (int h = 1; h <= 12; h++)
            v += sin(h * phase) / h;
        x[i] = (float)(3000 * v * (seg < 0.5 ? 1.0 : 0.2) + 200 * sparq_rng_normal(&rng));
    }
}

struct row {
    const char *name;
    double audio_per_s;
    double ms_per_audio_s;
};

int cmd_bench_features(int argc, char **argv)
{
    static const struct option opts[] = {
        { "seconds", required_argument, NULL, 's' }, { "repeat", required_argument, NULL, 'r' },
        { "json", required_argument, NULL, 'j' },    { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    double seconds = 60;
    int repeat = 3, c, bad = 0;
    const char *json = "build/bench/features.json";
    while ((c = getopt_long(argc, argv, "s:r:j:h", opts, NULL)) != -1) {
        switch (c) {
        case 's': bad = sparq_parse_double("--seconds", optarg, 1, 3600, &seconds); break;
        case 'r': bad = sparq_parse_int("--repeat", optarg, 1, 100, &repeat); break;
        case 'j': json = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        if (bad) {
            fprintf(stderr, "sparq bench-features: %s\n", sparq_last_error());
            return 2;
        }
    }
    if (!(seconds >= 1 && seconds <= 3600) || repeat < 1 || repeat > 100 || optind != argc) {
        fprintf(stderr, "sparq bench-features: --seconds 1..3600, --repeat 1..100\n");
        return 2;
    }
    const int rate = 16000, rate_in = 22050;
    size_t n = (size_t)(seconds * rate), n22 = (size_t)(seconds * rate_in);
    float *x = malloc(n * sizeof(float)), *x22 = malloc(n22 * sizeof(float));
    struct sparq_fbank_options o;
    sparq_fbank_default_options(&o);
    int frames_max = sparq_fbank_num_frames(n, &o);
    float *feats = malloc((size_t)frames_max * (size_t)o.num_mel_bins * sizeof(float));
    char wav[64];
    snprintf(wav, sizeof wav, "/tmp/sparq_bench_%d.wav", (int)getpid());
    if (!x || !x22 || !feats) {
        fprintf(stderr, "sparq bench-features: out of memory\n");
        return 1;
    }
    synth(x, n, rate, 1);
    synth(x22, n22, rate_in, 2);
    if (sparq_audio_write_wav16(wav, x, n, rate)) {
        fprintf(stderr, "sparq bench-features: %s\n", sparq_last_error());
        return 1;
    }
    struct sparq_fbank_plan *plan0, *plan1;
    struct sparq_fbank_options o1 = o;
    o1.dither = SPARQ_FBANK_TRAIN_DITHER;
    if (sparq_fbank_plan_create(&plan0, &o) || sparq_fbank_plan_create(&plan1, &o1)) {
        fprintf(stderr, "sparq bench-features: %s\n", sparq_last_error());
        return 1;
    }
    struct sparq_cmvn cmvn;
    sparq_cmvn_init(&cmvn, o.num_mel_bins);
    struct sparq_specaug_options sa;
    sparq_specaug_default_options(&sa);

    enum { FBANK, FBANK_DITHER, RESAMPLE, LOAD, CMVN_SPEC, PIPELINE, NROWS };
    struct row rows[NROWS] = {
        { "fbank 80 (dither 0)", 0, 0 },
        { "fbank 80 (dither 1.0)", 0, 0 },
        { "resample 22050->16000", 0, 0 },
        { "load 16-bit WAV", 0, 0 },
        { "CMVN + SpecAugment", 0, 0 },
        { "load + fbank + CMVN + SpecAug", 0, 0 },
    };
    double best[NROWS];
    for (int r = 0; r < NROWS; r++)
        best[r] = INFINITY;
    int frames = 0, failed = 0;
    uint64_t rng = 3;
    for (int it = 0; it < repeat && !failed; it++) {
        double t;
        t = sparq_clock_s();
        failed |= sparq_fbank_plan_run(plan0, x, n, 0, feats, &frames);
        best[FBANK] = fmin(best[FBANK], sparq_clock_s() - t);
        t = sparq_clock_s();
        failed |= sparq_fbank_plan_run(plan1, x, n, (uint64_t)it, feats, &frames);
        best[FBANK_DITHER] = fmin(best[FBANK_DITHER], sparq_clock_s() - t);
        float *y;
        size_t m;
        t = sparq_clock_s();
        failed |= sparq_audio_resample(x22, n22, rate_in, rate, &y, &m);
        best[RESAMPLE] = fmin(best[RESAMPLE], sparq_clock_s() - t);
        if (!failed)
            free(y);
        t = sparq_clock_s();
        failed |= sparq_audio_load(wav, rate, &y, &m);
        best[LOAD] = fmin(best[LOAD], sparq_clock_s() - t);
        if (!failed)
            free(y);
        sparq_cmvn_accumulate(&cmvn, feats, frames);
        sparq_cmvn_finalize(&cmvn);
        t = sparq_clock_s();
        sparq_cmvn_apply(&cmvn, feats, frames);
        sparq_specaugment(feats, frames, o.num_mel_bins, &sa, &rng);
        best[CMVN_SPEC] = fmin(best[CMVN_SPEC], sparq_clock_s() - t);
        t = sparq_clock_s();
        failed |= sparq_audio_load(wav, rate, &y, &m);
        if (!failed) {
            failed |= sparq_fbank_plan_run(plan1, y, m, (uint64_t)it, feats, &frames);
            sparq_cmvn_apply(&cmvn, feats, frames);
            sparq_specaugment(feats, frames, o.num_mel_bins, &sa, &rng);
            free(y);
        }
        best[PIPELINE] = fmin(best[PIPELINE], sparq_clock_s() - t);
    }
    unlink(wav);
    if (failed) {
        fprintf(stderr, "sparq bench-features: %s\n", sparq_last_error());
        return 1;
    }
    printf("feature extraction, one thread, %.0f s of audio, best of %d\n", seconds, repeat);
    printf("%-32s %16s %18s\n", "step", "audio s / s", "ms per audio s");
    for (int r = 0; r < NROWS; r++) {
        rows[r].audio_per_s = seconds / best[r];
        rows[r].ms_per_audio_s = 1000.0 * best[r] / seconds;
        printf("%-32s %16.0f %18.4f\n", rows[r].name, rows[r].audio_per_s, rows[r].ms_per_audio_s);
    }
    char buf[4096];
    int len = snprintf(buf, sizeof buf, "{\n  \"benchmark\": \"features\",\n  \"audio_seconds\": %.1f,\n  \"repeat\": %d,\n"
                                        "  \"threads\": 1,\n  \"results\": [\n", seconds, repeat);
    for (int r = 0; r < NROWS; r++)
        len += snprintf(buf + len, sizeof buf - (size_t)len,
                        "    {\"step\": \"%s\", \"audio_seconds_per_second\": %.1f, \"ms_per_audio_second\": %.5f}%s\n",
                        rows[r].name, rows[r].audio_per_s, rows[r].ms_per_audio_s, r + 1 < NROWS ? "," : "");
    len += snprintf(buf + len, sizeof buf - (size_t)len, "  ]\n}\n");
    int rc = 0;
    if (sparq_write_file_atomic(json, buf, (size_t)len)) {
        fprintf(stderr, "sparq bench-features: %s\n", sparq_last_error());
        rc = 1;
    } else
        printf("wrote %s\n", json);
    sparq_fbank_plan_free(plan0);
    sparq_fbank_plan_free(plan1);
    sparq_cmvn_free(&cmvn);
    free(x);
    free(x22);
    free(feats);
    return rc;
}
