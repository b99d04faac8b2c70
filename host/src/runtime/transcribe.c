// Transcribing files through the pipeline (sparq_runtime_transcribe): the
// windows of consecutive files (sparq_longform_transcribe's cut rule) are
// queued and decoded a few at a time by sparq_runtime_decode, so one window's
// device stage runs beside the next one's fbank and front-end. The queue holds
// at most TR_WINDOWS windows and TR_BUDGET windows' worth of samples, so
// memory stays bounded by the window as before.
#include <stdlib.h>
#include <string.h>

#include "runtime_internal.h"
#include "sparq_error.h"
#include "sparq_fbank.h"
#include "sparq_longform.h"
#include "sparq_train.h"

#define TR_WINDOWS SPARQ_PIPELINE_BATCHES
#define TR_BUDGET 4           // queued samples: at most this many full windows
#define TR_BATCH_FRAMES 20000 // as sparq eval

struct tr_file {
    char *text;
    size_t len, cap;
    int windows, rc;
    char *error;
};

struct tr {
    struct sparq_runtime *rt;
    const struct sparq_longform_options *o;
    struct sparq_ctc_beam_options dec;
    const char *const *paths;
    struct tr_file *f;
    int cur;     // the file being read
    int emitted; // files handed to emit so far
    void (*emit)(void *ctx, int file, const char *text, int windows, const char *error);
    void *ctx;
    // the queue
    int nq;
    int file[TR_WINDOWS];
    float *x[TR_WINDOWS];
    size_t n[TR_WINDOWS], samples, budget;
};

static void file_fail(struct tr *t, int file, int rc)
{
    struct tr_file *f = &t->f[file];
    if (f->rc)
        return;
    f->rc = rc;
    f->error = strdup(sparq_last_error());
}

// Decodes the queued windows (one dataset, the pipeline's own batches) and
// appends each one's words to its file's transcript, in window order.
static void flush(struct tr *t)
{
    const int n = t->nq;
    if (!n)
        return;
    struct sparq_fbank_options fo;
    sparq_fbank_default_options(&fo);
    fo.num_mel_bins = sparq_runtime_model(t->rt)->cfg.n_mels;
    struct sparq_dataset ds;
    memset(&ds, 0, sizeof ds);
    char *ids[TR_WINDOWS], *hyps[TR_WINDOWS];
    int frames[TR_WINDOWS];
    ds.n = (size_t)n;
    ds.ids = ids;
    ds.samples = t->x;
    ds.n_samples = t->n;
    ds.frames = frames;
    for (int i = 0; i < n; i++) {
        ids[i] = (char *)t->paths[t->file[i]];
        frames[i] = sparq_fbank_num_frames(t->n[i], &fo);
        ds.seconds += (double)t->n[i] / fo.sample_rate;
        hyps[i] = NULL;
    }
    struct sparq_pipeline_options po = { .threads = 2 };
    int rc = sparq_runtime_decode(t->rt, &ds, TR_BATCH_FRAMES, &t->dec, &po, hyps);
    if (!rc && sparq_runtime_error(t->rt))
        rc = sparq_fail(sparq_runtime_error(t->rt), "%s", sparq_last_error());
    for (int i = 0; i < n; i++) {
        struct tr_file *f = &t->f[t->file[i]];
        int r = rc;
        if (!r && !f->rc)
            r = rt_append_words(&f->text, &f->len, &f->cap, hyps[i]);
        if (r)
            file_fail(t, t->file[i], r);
        free(hyps[i]);
        free(t->x[i]);
    }
    t->nq = 0;
    t->samples = 0;
}

// Hands files [emitted, upto) to emit.
static void emit_upto(struct tr *t, int upto)
{
    for (; t->emitted < upto; t->emitted++) {
        struct tr_file *f = &t->f[t->emitted];
        if (!f->rc && !f->text && !(f->text = strdup("")))
            file_fail(t, t->emitted, sparq_fail(SPARQ_ENOMEM, "out of memory"));
        t->emit(t->ctx, t->emitted, f->rc ? NULL : f->text, f->windows, f->rc ? f->error : NULL);
    }
}

static int queue_window(void *ctx, const float *x, size_t n, int whole)
{
    struct tr *t = ctx;
    const char *path = t->paths[t->cur];
    int s = rt_longform_short(sparq_runtime_model(t->rt), path, n, whole);
    if (s) // a tail too short to decode adds nothing; a whole file that short is an error
        return s < 0 ? s : SPARQ_OK;
    if (t->nq == TR_WINDOWS || (t->nq && t->samples + n > t->budget)) {
        flush(t);
        emit_upto(t, t->cur); // every earlier file is complete
    }
    float *c = sparq_malloc(sizeof(float) * (n + 1), "a window's samples");
    if (!c)
        return SPARQ_ENOMEM;
    memcpy(c, x, sizeof(float) * n);
    t->file[t->nq] = t->cur;
    t->x[t->nq] = c;
    t->n[t->nq++] = n;
    t->samples += n;
    return SPARQ_OK;
}

int sparq_runtime_transcribe(struct sparq_runtime *rt, const char *const *paths, int n,
                             const struct sparq_longform_options *o,
                             void (*emit)(void *ctx, int file, const char *text, int windows, const char *error),
                             void *ctx)
{
    if (!(o->window_s >= 1.0 && o->window_s <= 3600.0))
        return sparq_fail(SPARQ_EINVAL, "window %g s out of range (1..3600)", o->window_s);
    struct tr t;
    memset(&t, 0, sizeof t);
    t.rt = rt;
    t.o = o;
    t.dec = (struct sparq_ctc_beam_options){ o->beam, o->lm, o->lm_weight, o->word_bonus };
    t.paths = paths;
    t.emit = emit;
    t.ctx = ctx;
    t.budget = (size_t)(o->window_s * 16000) * TR_BUDGET;
    t.f = sparq_calloc((size_t)n + 1, sizeof *t.f, "transcripts");
    if (!t.f)
        return SPARQ_ENOMEM;
    for (t.cur = 0; t.cur < n; t.cur++) {
        int rc = rt_longform_windows(paths[t.cur], o->window_s, queue_window, &t, &t.f[t.cur].windows);
        if (rc)
            file_fail(&t, t.cur, rc);
        int done = t.cur + 1; // files before the first one with a window still queued are complete
        for (int i = 0; i < t.nq; i++)
            done = t.file[i] < done ? t.file[i] : done;
        emit_upto(&t, done);
    }
    flush(&t);
    emit_upto(&t, n);
    int failed = 0;
    for (int i = 0; i < n; i++) {
        failed |= t.f[i].rc != 0;
        free(t.f[i].text);
        free(t.f[i].error);
    }
    free(t.f);
    return failed ? SPARQ_EINVAL : SPARQ_OK;
}
