// fbank vs torchaudio.compliance.kaldi.fbank fixtures (tests/fixtures/fbank,
// made by tests/fixtures/make_fbank_fixtures.py), resampling vs
// torchaudio.functional.resample, dither, CMVN and SpecAugment.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "sparq_audio.h"
#include "sparq_error.h"
#include "sparq_fbank.h"
#include "sparq_file.h"
#include "sparq_rng.h"

#define FIX "tests/fixtures/fbank/"
// The bound: max abs difference of log-mel values vs torchaudio
// (its algorithm run on float64 input).
#define FBANK_TOL 1e-3
// vs torchaudio on float32 input: its own rounding reaches 2.8e-3 in
// near-silent bins of the espeak clip (make_fbank_fixtures.py prints it).
#define FBANK32_TOL 5e-3
// Resampler: float32 (torch) vs double (ours) sums of ~20 taps on int16-scale
// samples, both in double: 1e-3 of one int16 step.
#define RESAMPLE_TOL 1e-3

static float *read_f32(const char *path, size_t *n)
{
    char *data;
    size_t len;
    if (sparq_read_file(path, (size_t)1 << 30, &data, &len))
        return NULL;
    *n = len / sizeof(float);
    return (float *)(void *)data; // malloc'd: aligned for float
}

static double max_diff(const float *a, const float *b, size_t n, size_t *at)
{
    double worst = 0.0;
    *at = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > worst) {
            worst = d;
            *at = i;
        }
    }
    return worst;
}

static void fixture(const char *name, int want_frames)
{
    char path[256];
    snprintf(path, sizeof path, FIX "%s.wav", name);
    float *x;
    size_t n;
    int rc = sparq_audio_load(path, 16000, &x, &n);
    CHECK(rc == 0, "%s: load (%s)", name, rc ? sparq_last_error() : "ok");
    if (rc)
        return;
    struct sparq_fbank_options o;
    sparq_fbank_default_options(&o);
    float *feats;
    int frames;
    rc = sparq_fbank_compute(x, n, &o, &feats, &frames);
    snprintf(path, sizeof path, FIX "%s.fbank", name);
    size_t m;
    float *want = read_f32(path, &m);
    CHECK(rc == 0 && want && frames == want_frames && m == (size_t)frames * 80, "%s: %d frames (torchaudio %d)", name,
          frames, want_frames);
    if (rc == 0 && want && m == (size_t)frames * 80) {
        size_t at;
        double worst = max_diff(feats, want, m, &at);
        CHECK(worst <= FBANK_TOL, "%s: max |fbank - torchaudio| = %.2e (frame %zu bin %zu, %.4f vs %.4f)", name, worst,
              at / 80, at % 80, feats[at], want[at]);
        snprintf(path, sizeof path, FIX "%s.fbank32", name);
        size_t m32;
        float *want32 = read_f32(path, &m32);
        if (want32 && m32 == m) {
            worst = max_diff(feats, want32, m, &at);
            CHECK(worst <= FBANK32_TOL, "%s: max |fbank - torchaudio float32| = %.2e (frame %zu bin %zu)", name, worst,
                  at / 80, at % 80);
        }
        free(want32);
    }
    free(want);
    free(feats);
    free(x);
}

static void test_no_snip_edges(void)
{
    float *x, *feats;
    size_t n, m;
    int frames;
    if (sparq_audio_load(FIX "cards.wav", 16000, &x, &n))
        return;
    struct sparq_fbank_options o;
    sparq_fbank_default_options(&o);
    o.snip_edges = 0;
    float *want = read_f32(FIX "cards.nosnip.fbank", &m);
    int rc = sparq_fbank_compute(x, n, &o, &feats, &frames);
    CHECK(rc == 0 && want && m == (size_t)frames * 80 && frames == sparq_fbank_num_frames(n, &o),
          "snip_edges=0: %d frames (torchaudio %zu)", frames, m / 80);
    if (rc == 0 && want && m == (size_t)frames * 80) {
        size_t at;
        double worst = max_diff(feats, want, m, &at);
        CHECK(worst <= FBANK_TOL, "snip_edges=0: max |fbank - torchaudio| = %.2e (frame %zu bin %zu)", worst, at / 80,
              at % 80);
    }
    if (!rc)
        free(feats);
    free(want);
    free(x);
}

static void test_resample(void)
{
    float *x, *y;
    size_t n, ny, m;
    int rate;
    int rc = sparq_audio_load_ex(FIX "resample_in.wav", 0, &x, &n, &rate);
    CHECK(rc == 0 && rate == 22050, "resample input loads at its own rate 22050 (%d)", rc ? 0 : rate);
    if (rc)
        return;
    float *want = read_f32(FIX "resample_out.f32", &m);
    rc = sparq_audio_resample(x, n, 22050, 16000, &y, &ny);
    CHECK(rc == 0 && want && ny == m, "22050->16000: %zu samples (torchaudio %zu)", ny, m);
    if (rc == 0 && want && ny == m) {
        double worst = 0;
        for (size_t i = 0; i < m; i++)
            worst = fmax(worst, fabs((double)y[i] - want[i]));
        CHECK(worst <= RESAMPLE_TOL, "resample max |ours - torchaudio| = %.3g (int16 units)", worst);
        free(y);
    }
    // Loading with a target rate goes through the same resampler.
    float *z;
    size_t nz;
    rc = sparq_audio_load(FIX "resample_in.wav", 16000, &z, &nz);
    CHECK(rc == 0 && nz == m, "load(..., 16000) resamples to %zu samples", nz);
    if (!rc)
        free(z);
    free(want);
    free(x);
}

static void test_dither_and_edges(uint64_t seed)
{
    float *x;
    size_t n;
    if (sparq_audio_load(FIX "espeak.wav", 16000, &x, &n))
        return;
    struct sparq_fbank_options o;
    sparq_fbank_default_options(&o);
    o.dither = 1.0f;
    o.seed = seed;
    float *a, *b, *c;
    int fa, fb, fc;
    sparq_fbank_compute(x, n, &o, &a, &fa);
    sparq_fbank_compute(x, n, &o, &b, &fb);
    o.seed = seed + 1;
    sparq_fbank_compute(x, n, &o, &c, &fc);
    CHECK(fa == fb && memcmp(a, b, (size_t)fa * 80 * sizeof(float)) == 0, "dither: same seed, same features");
    CHECK(memcmp(a, c, (size_t)fa * 80 * sizeof(float)) != 0, "dither: other seed, other features");
    float lo = 1e9f;
    for (int i = 0; i < fa * 80; i++)
        lo = fminf(lo, a[i]);
    // Without dither the digital silence gives log(FLT_EPSILON) = -15.94;
    // unit Gaussian dither keeps every bin above ~-5 (see docs/data.md).
    CHECK(lo > -8.0f, "dither 1.0 lifts the minimum log energy to %.2f (> -8)", lo);
    free(a);
    free(b);
    free(c);

    sparq_fbank_default_options(&o);
    CHECK(sparq_fbank_num_frames(399, &o) == 0 && sparq_fbank_num_frames(400, &o) == 1 &&
              sparq_fbank_num_frames(560, &o) == 2 && sparq_fbank_num_frames(559, &o) == 1,
          "snip_edges frame counts: 399->0, 400->1, 559->1, 560->2");
    float *f;
    int frames = -1;
    int rc = sparq_fbank_compute(x, 100, &o, &f, &frames);
    CHECK(rc == 0 && frames == 0 && f != NULL, "audio shorter than a frame gives 0 frames, no error");
    free(f);
    o.num_mel_bins = 1;
    rc = sparq_fbank_compute(x, n, &o, &f, &frames);
    CHECK(rc != 0 && strstr(sparq_last_error(), "num_mel_bins"), "bad option rejected: %s", sparq_last_error());
    free(x);
}

// One plan shared by threads (and plans created concurrently) gives the
// same features as a serial run: the trainer extracts features in parallel.
static void test_threads(uint64_t seed)
{
    float *x;
    size_t n;
    if (sparq_audio_load(FIX "human.wav", 16000, &x, &n))
        return;
    struct sparq_fbank_options o;
    sparq_fbank_default_options(&o);
    o.dither = 1.0f;
    struct sparq_fbank_plan *plan;
    if (sparq_fbank_plan_create(&plan, &o))
        return;
    enum { RUNS = 8 };
    int frames = sparq_fbank_num_frames(n, &o);
    size_t len = (size_t)frames * 80;
    float *serial = malloc(RUNS * len * sizeof(float)), *par = malloc(RUNS * len * sizeof(float));
    int f;
    for (int r = 0; r < RUNS; r++)
        sparq_fbank_plan_run(plan, x, n, seed + (uint64_t)r, serial + (size_t)r * len, &f);
    int bad = 0;
#pragma omp parallel for num_threads(4) reduction(+ : bad)
    for (int r = 0; r < RUNS; r++) {
        int fr;
        struct sparq_fbank_plan *own;
        bad += sparq_fbank_plan_create(&own, &o) != 0;
        bad += sparq_fbank_plan_run(r % 2 ? plan : own, x, n, seed + (uint64_t)r, par + (size_t)r * len, &fr) != 0;
        sparq_fbank_plan_free(own);
    }
    CHECK(!bad && memcmp(serial, par, RUNS * len * sizeof(float)) == 0,
          "4 threads (shared and per-thread plans) give the serial features");
    free(serial);
    free(par);
    sparq_fbank_plan_free(plan);
    free(x);
}

static void test_cmvn(uint64_t seed)
{
    enum { T = 500, D = 4 };
    static float f[T * D];
    uint64_t rng = seed;
    for (int t = 0; t < T; t++)
        for (int d = 0; d < D; d++)
            f[t * D + d] = (float)(3.0 * d + (d + 1) * sparq_rng_normal(&rng));
    struct sparq_cmvn c;
    sparq_cmvn_init(&c, D);
    sparq_cmvn_accumulate(&c, f, 200);
    sparq_cmvn_accumulate(&c, f + 200 * D, T - 200);
    CHECK(sparq_cmvn_finalize(&c) == 0 && c.frames == T, "cmvn: %d frames accumulated in two parts", T);
    sparq_cmvn_apply(&c, f, T);
    int ok = 1;
    for (int d = 0; d < D; d++) {
        double s = 0, s2 = 0;
        for (int t = 0; t < T; t++) {
            s += f[t * D + d];
            s2 += (double)f[t * D + d] * f[t * D + d];
        }
        if (fabs(s / T) > 1e-4 || fabs(s2 / T - 1.0) > 1e-3)
            ok = 0;
    }
    CHECK(ok, "cmvn: normalised features have mean 0, variance 1 per dimension");
    char dir[] = "/tmp/sparq_cmvn_XXXXXX", path[64], badpath[64];
    if (!mkdtemp(dir))
        return;
    snprintf(path, sizeof path, "%s/cmvn.json", dir);
    snprintf(badpath, sizeof badpath, "%s/cmvn_bad.json", dir);
    int rc = sparq_cmvn_save(&c, path);
    struct sparq_cmvn l;
    rc = rc ? rc : sparq_cmvn_load(&l, path);
    CHECK(rc == 0 && l.dim == D && memcmp(l.mean, c.mean, sizeof(float) * D) == 0 &&
              memcmp(l.istd, c.istd, sizeof(float) * D) == 0,
          "cmvn: save/load round-trips float32 exactly");
    if (rc == 0)
        sparq_cmvn_free(&l);
    FILE *bad = fopen(badpath, "w");
    fputs("{\"format\":\"sparq-cmvn\",\"version\":1,\"dim\":3,\"mean\":[1,2],\"istd\":[1,1,1]}", bad);
    fclose(bad);
    rc = sparq_cmvn_load(&l, badpath);
    CHECK(rc != 0 && strstr(sparq_last_error(), "cmvn_bad.json"), "cmvn: bad file rejected: %s", sparq_last_error());
    struct sparq_cmvn e;
    sparq_cmvn_init(&e, 3);
    CHECK(sparq_cmvn_finalize(&e) != 0, "cmvn: finalize without frames fails");
    sparq_cmvn_free(&e);
    sparq_cmvn_free(&c);
    unlink(path);
    unlink(badpath);
    rmdir(dir);
}

static void test_specaug(uint64_t seed)
{
    enum { T = 400, D = 80 };
    static float f[T * D], g[T * D];
    for (int i = 0; i < T * D; i++)
        f[i] = g[i] = 1.0f;
    struct sparq_specaug_options o;
    sparq_specaug_default_options(&o);
    uint64_t r1 = seed, r2 = seed;
    sparq_specaugment(f, T, D, &o, &r1);
    sparq_specaugment(g, T, D, &o, &r2);
    CHECK(memcmp(f, g, sizeof f) == 0, "specaugment: same seed, same masks");
    // Masked cells: whole columns (freq) and whole rows (time), nothing else.
    int cols = 0, rows = 0, stray = 0;
    for (int d = 0; d < D; d++) {
        int z = 0;
        for (int t = 0; t < T; t++)
            z += f[t * D + d] == 0.0f;
        cols += z == T;
    }
    for (int t = 0; t < T; t++) {
        int z = 0;
        for (int d = 0; d < D; d++)
            z += f[t * D + d] == 0.0f;
        rows += z == D;
    }
    for (int t = 0; t < T; t++)
        for (int d = 0; d < D; d++)
            if (f[t * D + d] != 0.0f && f[t * D + d] != 1.0f)
                stray++;
    int tmax = (int)(o.time_width_ratio * T);
    CHECK(cols <= o.freq_masks * o.freq_width && rows <= o.time_masks * tmax && stray == 0,
          "specaugment: %d masked bins (<= %d), %d masked frames (<= %d)", cols, o.freq_masks * o.freq_width, rows,
          o.time_masks * tmax);
    // Over many draws the masks are neither always empty nor out of range.
    long total = 0;
    for (int k = 0; k < 50; k++) {
        for (int i = 0; i < T * D; i++)
            f[i] = 1.0f;
        sparq_specaugment(f, T, D, &o, &r1);
        for (int i = 0; i < T * D; i++)
            total += f[i] == 0.0f;
    }
    CHECK(total > 0, "specaugment masks something over 50 draws (%ld cells)", total);
}

int main(void)
{
    uint64_t seed = check_seed(20261126);
    FILE *idx = fopen(FIX "index.txt", "r");
    CHECK(idx != NULL, "fixture index " FIX "index.txt present");
    char name[64];
    int frames;
    while (idx && fscanf(idx, "%63s %d", name, &frames) == 2)
        fixture(name, frames);
    if (idx)
        fclose(idx);
    test_no_snip_edges();
    test_resample();
    test_dither_and_edges(seed);
    test_threads(seed);
    test_cmvn(seed);
    test_specaug(seed);
    return check_done();
}
