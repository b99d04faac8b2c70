// libFuzzer target: the audio loader (libsndfile underneath) on untrusted
// bytes, through a temporary file. Whatever loads must be finite, non-empty,
// and the stream reader must deliver the same samples in pieces.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sparq_audio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[96];
    snprintf(path, sizeof path, "%s/sparq_fuzz_audio.%d.wav", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp",
             (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    fwrite(data, 1, size, f);
    fclose(f);
    struct sparq_audio_info info;
    if (sparq_audio_probe(path, &info) == 0 && info.frames > (int64_t)1 << 22)
        goto done; // a header promising hours of audio: not the parser's bug, only slow
    float *x = NULL;
    size_t n = 0;
    if (sparq_audio_load(path, 16000, &x, &n) == 0) {
        if (n == 0)
            abort();
        for (size_t i = 0; i < n; i++)
            if (!isfinite(x[i]))
                abort();
        struct sparq_audio_stream *s = NULL;
        float piece[1000];
        size_t at = 0;
        long got = 0;
        if (sparq_audio_stream_open(path, 16000, &s, NULL) != 0)
            abort();
        while ((got = sparq_audio_stream_read(s, piece, 1000)) > 0) {
            if (at + (size_t)got > n || memcmp(piece, x + at, (size_t)got * sizeof(float)) != 0)
                abort();
            at += (size_t)got;
        }
        if (got < 0 || at != n)
            abort();
        sparq_audio_stream_close(s);
        free(x);
    }
done:
    unlink(path);
    return 0;
}
