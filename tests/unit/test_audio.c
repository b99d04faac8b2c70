// Audio loading: formats, downmix, resampling, and clear errors for bad files.
#include <math.h>
#include <sndfile.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "sparq_audio.h"
#include "sparq_error.h"

static char dir[] = "/tmp/sparq_audio_XXXXXX";

static const char *path(const char *name)
{
    static char buf[8][256];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

// Writes interleaved int16 frames with libsndfile in the given container.
static int write_sf(const char *p, int format, int rate, int ch, const short *x, sf_count_t frames)
{
    SF_INFO info = { .samplerate = rate, .channels = ch, .format = format };
    SNDFILE *sf = sf_open(p, SFM_WRITE, &info);
    if (!sf)
        return -1;
    sf_writef_short(sf, x, frames);
    sf_close(sf);
    return 0;
}

// probe_too: header-level problems; a truncated FLAC has a valid header and
// only decoding finds the missing frames.
static void expect_error(const char *p, const char *fragment, int probe_too)
{
    float *x = (float *)1;
    size_t n = 1;
    int rc = sparq_audio_load(p, 16000, &x, &n);
    CHECK(rc != 0 && x == NULL && n == 0 && strstr(sparq_last_error(), p) && strstr(sparq_last_error(), fragment),
          "bad file rejected with its path and '%s': %s", fragment, sparq_last_error());
    if (probe_too) {
        struct sparq_audio_info info;
        rc = sparq_audio_probe(p, &info);
        CHECK(rc != 0 && strstr(sparq_last_error(), p), "probe rejects it too");
    }
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    enum { N = 16000 };
    static short mono[N], stereo[2 * N];
    for (int i = 0; i < N; i++) {
        mono[i] = (short)lrint(10000 * sin(2 * M_PI * 440 * i / 16000.0));
        stereo[2 * i] = (short)(i % 2000);
        stereo[2 * i + 1] = (short)(-(i % 1000));
    }
    mono[5] = -32768;
    mono[6] = 32767;

    // 1. 16 kHz mono WAV: exact int16 values.
    write_sf(path("mono.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1, mono, N);
    float *x;
    size_t n;
    int rc = sparq_audio_load(path("mono.wav"), 16000, &x, &n);
    int exact = rc == 0 && n == N;
    for (int i = 0; exact && i < N; i++)
        exact = x[i] == (float)mono[i];
    CHECK(exact, "16 kHz mono WAV loads as the exact int16 values (incl. -32768 and 32767)");
    if (!rc) {
        // 2. Our WAV writer round-trips them (and clips out-of-range values).
        x[0] = 40000.0f;
        x[1] = -40000.0f;
        rc = sparq_audio_write_wav16(path("copy.wav"), x, n, 16000);
        float *y;
        size_t m;
        rc = rc ? rc : sparq_audio_load(path("copy.wav"), 16000, &y, &m);
        int same = rc == 0 && m == n && y[0] == 32767.0f && y[1] == -32768.0f;
        for (size_t i = 2; same && i < n; i++)
            same = y[i] == x[i];
        CHECK(same, "write_wav16 round-trips and clips to int16");
        if (!rc)
            free(y);
        free(x);
    }

    // 3. FLAC via libsndfile.
    write_sf(path("mono.flac"), SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 16000, 1, mono, N);
    rc = sparq_audio_load(path("mono.flac"), 16000, &x, &n);
    exact = rc == 0 && n == N;
    for (int i = 0; exact && i < N; i++)
        exact = x[i] == (float)mono[i];
    CHECK(exact, "FLAC loads losslessly");
    if (!rc)
        free(x);

    // 4. Stereo is averaged.
    write_sf(path("stereo.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 2, stereo, N);
    rc = sparq_audio_load(path("stereo.wav"), 16000, &x, &n);
    exact = rc == 0 && n == N;
    for (int i = 0; exact && i < N; i++)
        exact = x[i] == 0.5f * ((float)stereo[2 * i] + (float)stereo[2 * i + 1]);
    CHECK(exact, "stereo is downmixed to the channel average");
    if (!rc)
        free(x);

    // 5. 8 kHz is resampled: a 440 Hz tone stays a 440 Hz tone of the same level.
    static short low[8000];
    for (int i = 0; i < 8000; i++)
        low[i] = (short)lrint(10000 * sin(2 * M_PI * 440 * i / 8000.0));
    write_sf(path("8k.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, 8000, 1, low, 8000);
    int rate = 0;
    rc = sparq_audio_load_ex(path("8k.wav"), 16000, &x, &n, &rate);
    double worst = 0;
    for (size_t i = 1000; rc == 0 && i + 1000 < n; i++)
        worst = fmax(worst, fabs(x[i] - 10000 * sin(2 * M_PI * 440 * (double)i / 16000.0)));
    // Away from the edges the sinc interpolator is accurate to a few int16 steps.
    CHECK(rc == 0 && n == 16000 && rate == 16000 && worst < 30, "8 kHz -> 16 kHz: %zu samples, max error %.1f", n,
          worst);
    if (!rc)
        free(x);
    rc = sparq_audio_load_ex(path("8k.wav"), 0, &x, &n, &rate);
    CHECK(rc == 0 && n == 8000 && rate == 8000, "target rate 0 keeps the file rate");
    if (!rc)
        free(x);
    // A rate pair with too many phases for the filter table takes the direct
    // path; both must give the same tone.
    static float odd[38400];
    for (int i = 0; i < 38400; i++)
        odd[i] = (float)(10000 * sin(2 * M_PI * 440 * i / 383999.0));
    float *z;
    size_t nz;
    rc = sparq_audio_resample(odd, 38400, 383999, 16000, &z, &nz);
    worst = 0;
    for (size_t i = 200; rc == 0 && i + 200 < nz; i++)
        worst = fmax(worst, fabs(z[i] - 10000 * sin(2 * M_PI * 440 * (double)i / 16000.0)));
    CHECK(rc == 0 && nz == 1601 && worst < 30, "383999 Hz -> 16 kHz (direct kernel): %zu samples, max error %.1f", nz,
          worst);
    if (!rc)
        free(z);
    struct sparq_audio_info info;
    rc = sparq_audio_probe(path("stereo.wav"), &info);
    CHECK(rc == 0 && info.rate == 16000 && info.channels == 2 && info.frames == N && fabs(info.seconds - 1.0) < 1e-9,
          "probe reports rate, channels, frames, seconds");

    // 6. Bad files.
    FILE *f = fopen(path("mono.wav"), "rb");
    static unsigned char bytes[40000];
    size_t len = fread(bytes, 1, sizeof bytes, f);
    fclose(f);
    f = fopen(path("truncated.wav"), "wb");
    fwrite(bytes, 1, len / 2, f);
    fclose(f);
    expect_error(path("truncated.wav"), "truncated", 1);
    f = fopen(path("empty.wav"), "wb");
    fwrite(bytes, 1, 44, f);
    fclose(f);
    expect_error(path("empty.wav"), "empty", 1);
    f = fopen(path("text.wav"), "wb");
    fputs("this is not audio at all, just some text in a file\n", f);
    fclose(f);
    expect_error(path("text.wav"), "cannot read audio", 1);
    f = fopen(path("zero.wav"), "wb");
    fclose(f);
    expect_error(path("zero.wav"), "cannot read audio", 1);
    expect_error(path("missing.wav"), "cannot read audio", 1);
    f = fopen(path("mono.flac"), "rb");
    len = fread(bytes, 1, sizeof bytes, f);
    fclose(f);
    f = fopen(path("truncated.flac"), "wb");
    fwrite(bytes, 1, len / 2, f);
    fclose(f);
    expect_error(path("truncated.flac"), "truncated", 0);

    // 7. Non-finite samples in a float WAV (NaN, Inf) are an error naming the
    //    file and the index, for the whole-file loader and the stream reader.
    {
        float fx[1000];
        for (int i = 0; i < 1000; i++)
            fx[i] = 0.1f * sinf((float)i * 0.05f);
        SF_INFO fi = { .samplerate = 16000, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT };
        const char *bad[] = { "nan.wav", "inf.wav", "allnan.wav", "huge.wav" };
        for (int k = 0; k < 4; k++) {
            if (k == 0)
                fx[321] = NAN;
            if (k == 1) {
                fx[321] = 0.0f;
                fx[777] = -INFINITY;
            }
            if (k == 2)
                for (int i = 0; i < 1000; i++)
                    fx[i] = NAN;
            if (k == 3) // finite, but Inf once scaled to int16 range (found by fuzz_audio)
                for (int i = 0; i < 1000; i++)
                    fx[i] = i == 500 ? 1e38f : 0.1f;
            SNDFILE *sf = sf_open(path(bad[k]), SFM_WRITE, &fi);
            sf_writef_float(sf, fx, 1000);
            sf_close(sf);
            expect_error(path(bad[k]), k == 0   ? "NaN) at index 321"
                                       : k == 1 ? "Inf) at index 777"
                                       : k == 2 ? "at index 0"
                                                : "sample at index 500 is too large",
                         0);
            struct sparq_audio_stream *st = NULL;
            float chunk[2000];
            long got = sparq_audio_stream_open(path(bad[k]), 16000, &st, NULL);
            if (got == 0)
                got = sparq_audio_stream_read(st, chunk, 2000);
            sparq_audio_stream_close(st);
            CHECK(got < 0 && strstr(sparq_last_error(), k == 3 ? "too large" : "non-finite"), "stream reader rejects %s: %s", bad[k],
                  sparq_last_error());
        }
    }
    // 8. The stream reader delivers the same samples as the loader, in pieces.
    {
        float *all = NULL, piece[777];
        size_t n = 0, at = 0;
        int same = sparq_audio_load(path("stereo.wav"), 16000, &all, &n) == 0;
        struct sparq_audio_stream *st = NULL;
        struct sparq_audio_info si;
        same = same && sparq_audio_stream_open(path("stereo.wav"), 16000, &st, &si) == 0 && si.frames == (int64_t)n;
        for (long got; same && (got = sparq_audio_stream_read(st, piece, 777)) > 0; at += (size_t)got)
            same = at + (size_t)got <= n && memcmp(piece, all + at, (size_t)got * sizeof(float)) == 0;
        CHECK(same && at == n, "stream reader: %zu of %zu samples equal to sparq_audio_load", at, n);
        sparq_audio_stream_close(st);
        free(all);
    }

    const char *names[] = { "nan.wav", "inf.wav", "allnan.wav", "huge.wav",  "mono.wav", "copy.wav", "mono.flac", "stereo.wav", "8k.wav", "truncated.wav", "empty.wav",
                            "text.wav", "zero.wav", "truncated.flac" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        unlink(path(names[i]));
    rmdir(dir);
    return check_done();
}
