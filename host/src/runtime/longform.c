// Long-form transcription in bounded memory (sparq_longform.h).
#include "sparq_longform.h"

#include <stdlib.h>
#include <string.h>

#include "sparq_audio.h"
#include "sparq_ctc.h"
#include "sparq_error.h"
#include "sparq_fbank.h"
#include "runtime_internal.h"
#include "sparq_runtime.h"

#define RATE 16000
#define BLOCK (RATE / 100) // 10 ms energy blocks
#define SPAN 20            // the pause looked for: 200 ms
#define MIN_FRAMES 7       // the subsampling front end needs 7 fbank frames
// Segments of a long file end at the first pause at least MIN_SEG into them:
// PAUSE_BLOCKS blocks (120 ms) whose mean square is below QUIET (30 dB in
// int16 units, -60 dBFS) or 10 dB over the quietest block, whichever is
// higher, and in any case 20 dB under the loudest block.
#define MIN_SEG (RATE * 3 / 2)
#define PAUSE_BLOCKS 12
#define QUIET 1000.0

void sparq_longform_default_options(struct sparq_longform_options *o)
{
    o->window_s = 30.0;
    o->beam = 1;
    o->lm = NULL;
    o->lm_weight = 0.5;
    o->word_bonus = 1.0;
}

size_t sparq_longform_cut(const float *x, size_t n, size_t lo, size_t block, size_t span)
{
    if (lo >= n || block == 0 || span == 0)
        return n;
    size_t nb = n / block, half = span / 2;
    size_t first = lo / block > half ? lo / block - half : 0;
    if (nb < span || first + span > nb)
        return n;
    double best = -1.0, sum = 0.0;
    size_t at = n;
    // Sliding sum of block energies over `span` blocks starting at b.
    double *e = malloc(nb * sizeof(double));
    if (!e)
        return n;
    for (size_t b = 0; b < nb; b++) {
        double s = 0.0;
        for (size_t i = 0; i < block; i++)
            s += (double)x[b * block + i] * x[b * block + i];
        e[b] = s;
    }
    for (size_t b = first; b < first + span; b++)
        sum += e[b];
    for (size_t b = first;; b++) {
        size_t centre = (b + half) * block;
        if (centre >= lo && centre < n && (best < 0 || sum < best)) {
            best = sum;
            at = centre;
        }
        if (b + span >= nb)
            break;
        sum += e[b + span] - e[b];
    }
    free(e);
    return at;
}

size_t sparq_longform_pause(const float *x, size_t n, size_t from, size_t block, size_t min_blocks)
{
    size_t nb = block ? n / block : 0;
    if (nb == 0 || min_blocks == 0)
        return n;
    double *e = malloc(nb * sizeof(double)), floor = -1.0, loud = 0.0;
    if (!e)
        return n;
    for (size_t b = 0; b < nb; b++) {
        double s = 0.0;
        for (size_t i = 0; i < block; i++)
            s += (double)x[b * block + i] * x[b * block + i];
        e[b] = s / (double)block;
        floor = floor < 0 || e[b] < floor ? e[b] : floor;
        loud = e[b] > loud ? e[b] : loud;
    }
    // Never within 20 dB of the loudest block: a steady sound has no pauses.
    double quiet = floor * 10.0 > QUIET ? floor * 10.0 : QUIET;
    quiet = quiet < loud / 100.0 ? quiet : loud / 100.0;
    size_t at = n, run = 0;
    for (size_t b = 0; b <= nb && at == n; b++) {
        if (b < nb && e[b] < quiet) {
            run++;
            continue;
        }
        size_t centre = (b - run + b) * block / 2;
        if (run >= min_blocks && centre >= from)
            at = centre;
        run = 0;
    }
    free(e);
    return at;
}

// Appends " words" (or "words" first) to the growing transcript.
static int append(char **text, size_t *len, size_t *cap, const char *words)
{
    size_t w = strlen(words);
    if (w == 0)
        return SPARQ_OK;
    if (*len + w + 2 > *cap) {
        size_t nc = (*cap + w + 2) * 2;
        char *t = realloc(*text, nc);
        if (!t)
            return sparq_fail(SPARQ_ENOMEM, "out of memory for the transcript");
        *text = t;
        *cap = nc;
    }
    if (*len)
        (*text)[(*len)++] = ' ';
    memcpy(*text + *len, words, w + 1);
    *len += w;
    return SPARQ_OK;
}

// Decodes one window of samples into `out` (malloc'd). A window too short
// for the front end (a tail under ~0.1 s) decodes to ""; a whole file
// that short is an error.
static int decode_window(struct sparq_model *m, struct sparq_runtime *rt, struct sparq_acts *a, const char *path,
                         const float *x, size_t n, int whole, const struct sparq_ctc_beam_options *dec, char **out)
{
    *out = NULL;
    struct sparq_fbank_options fo;
    sparq_fbank_default_options(&fo);
    fo.num_mel_bins = m->cfg.n_mels;
    if (sparq_fbank_num_frames(n, &fo) < MIN_FRAMES) {
        if (whole)
            return sparq_fail(SPARQ_EFORMAT, "%s: too short (%d feature frames, need %d)", path,
                              sparq_fbank_num_frames(n, &fo), MIN_FRAMES);
        *out = strdup("");
        return *out ? SPARQ_OK : sparq_fail(SPARQ_ENOMEM, "out of memory");
    }
    float *feats = NULL;
    int frames = 0;
    int rc = sparq_fbank_compute(x, n, &fo, &feats, &frames);
    if (rc)
        return rc;
    sparq_apply_cmvn(m, feats, frames);
    int T2 = sparq_forward(m, a, feats, &frames, 1, frames, 0);
    free(feats);
    if (T2 >= 0 && rt && sparq_runtime_error(rt))
        T2 = sparq_runtime_error(rt);
    if (T2 < 0)
        return sparq_fail(T2, "%s: %s", path, sparq_last_error());
    char *t = malloc((size_t)T2 + 2);
    if (!t)
        return sparq_fail(SPARQ_ENOMEM, "out of memory");
    if (dec->beam > 1)
        rc = sparq_ctc_beam_ex(sparq_acts_logits(a), T2, m->cfg.vocab, dec, t, (size_t)T2 + 2);
    else
        rc = sparq_ctc_greedy(sparq_acts_logits(a), T2, m->cfg.vocab, t, (size_t)T2 + 2);
    if (rc < 0) {
        free(t);
        return rc;
    }
    *out = t;
    return SPARQ_OK;
}

// Reads `path` as a stream and hands each window to win() in order: a file
// that fits in one window whole, a longer one cut into segments at pauses
// (the model was trained on utterances, not on minutes: neighbours in one
// window cost accuracy); a window with no pause after its first MIN_SEG ends
// at the quietest 200 ms of its last third, and the last segment at the end
// of the file.
int rt_longform_windows(const char *path, double window_s, rt_window_fn win, void *ctx, int *windows)
{
    *windows = 0;
    if (!(window_s >= 1.0 && window_s <= 3600.0))
        return sparq_fail(SPARQ_EINVAL, "window %g s out of range (1..3600)", window_s);
    const size_t cap = (size_t)(window_s * RATE);
    struct sparq_audio_stream *s = NULL;
    int rc = sparq_audio_stream_open(path, RATE, &s, NULL);
    if (rc)
        return rc;
    float *buf = sparq_malloc(cap * sizeof(float), "long-form window");
    size_t fill = 0;
    if (!buf)
        rc = sparq_fail(SPARQ_ENOMEM, "%s: out of memory for a %g s window", path, window_s);
    for (int eof = 0; rc == SPARQ_OK && !(eof && fill == 0);) {
        while (!eof && fill < cap) {
            long got = sparq_audio_stream_read(s, buf + fill, cap - fill);
            if (got < 0) {
                rc = (int)got;
                break;
            }
            eof = got == 0;
            fill += (size_t)got;
        }
        if (rc || (eof && fill == 0 && *windows > 0))
            break;
        size_t cut = eof && *windows == 0 ? fill : sparq_longform_pause(buf, fill, MIN_SEG, BLOCK, PAUSE_BLOCKS);
        if (cut >= fill)
            cut = eof ? fill : sparq_longform_cut(buf, fill, fill - fill / 3, BLOCK, SPAN);
        rc = win(ctx, buf, cut, eof && *windows == 0);
        memmove(buf, buf + cut, (fill - cut) * sizeof(float));
        fill -= cut;
        ++*windows;
    }
    free(buf);
    sparq_audio_stream_close(s);
    return rc;
}

int rt_longform_short(const struct sparq_model *m, const char *path, size_t n, int whole)
{
    struct sparq_fbank_options fo;
    sparq_fbank_default_options(&fo);
    fo.num_mel_bins = m->cfg.n_mels;
    int frames = sparq_fbank_num_frames(n, &fo);
    if (frames >= MIN_FRAMES)
        return 0;
    return whole ? sparq_fail(SPARQ_EFORMAT, "%s: too short (%d feature frames, need %d)", path, frames, MIN_FRAMES)
                 : 1;
}

int rt_append_words(char **text, size_t *len, size_t *cap, const char *words)
{
    return append(text, len, cap, words);
}

// One window decoded at once, appended to the transcript.
struct serial_win {
    struct sparq_model *m;
    struct sparq_runtime *rt;
    struct sparq_acts *a;
    const char *path;
    const struct sparq_ctc_beam_options *dec;
    char *all;
    size_t len, cap;
};

static int serial_window(void *ctx, const float *x, size_t n, int whole)
{
    struct serial_win *w = ctx;
    char *words = NULL;
    int rc = decode_window(w->m, w->rt, w->a, w->path, x, n, whole, w->dec, &words);
    if (rc == SPARQ_OK)
        rc = append(&w->all, &w->len, &w->cap, words);
    free(words);
    return rc;
}

int sparq_longform_transcribe(struct sparq_model *m, struct sparq_runtime *rt, const char *path,
                              const struct sparq_longform_options *o, char **text, int *windows)
{
    *text = NULL;
    *windows = 0;
    struct sparq_ctc_beam_options dec = { o->beam, o->lm, o->lm_weight, o->word_bonus };
    struct serial_win w = { m, rt, sparq_acts_create_eval(&m->cfg, 1, 64), path, &dec, NULL, 0, 0 };
    int rc = w.a ? rt_longform_windows(path, o->window_s, serial_window, &w, windows)
                 : sparq_fail(SPARQ_ENOMEM, "%s: out of memory for a %g s window", path, o->window_s);
    sparq_acts_free(w.a);
    if (rc == SPARQ_OK && !w.all)
        w.all = strdup("");
    if (rc == SPARQ_OK && !w.all)
        rc = sparq_fail(SPARQ_ENOMEM, "out of memory");
    if (rc) {
        free(w.all);
        return rc;
    }
    *text = w.all;
    return SPARQ_OK;
}

size_t sparq_longform_warn_long(const struct sparq_dataset *ds, const char *manifest, FILE *log)
{
    struct sparq_longform_options o;
    sparq_longform_default_options(&o);
    size_t n = 0, longest = 0;
    for (size_t i = 0; i < ds->n; i++) {
        if ((double)ds->n_samples[i] > o.window_s * RATE)
            n++;
        if (ds->n_samples[i] > longest)
            longest = ds->n_samples[i];
    }
    if (n && log)
        fprintf(log,
                "sparq eval: warning: %s: %zu utterances longer than %g s (longest %.0f s) are decoded whole; "
                "memory grows with length squared (sparq transcribe --window splits long audio)\n",
                manifest, n, o.window_s, (double)longest / RATE);
    return n;
}
