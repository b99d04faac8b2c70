// Training data in memory: manifest -> audio, normalised text, labels;
// per-batch features; length-sorted batches by total frames.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sparq_audio.h"
#include "sparq_clock.h"
#include "sparq_ctc.h"
#include "sparq_error.h"
#include "sparq_manifest.h"
#include "sparq_text.h"
#include "sparq_train.h"

#define SAMPLE_RATE 16000

void sparq_dataset_free(struct sparq_dataset *ds)
{
    for (size_t i = 0; i < ds->n; i++) {
        free(ds->ids[i]);
        free(ds->texts[i]);
        free(ds->labels[i]);
        free(ds->samples[i]);
    }
    free(ds->ids);
    free(ds->texts);
    free(ds->labels);
    free(ds->n_labels);
    free(ds->samples);
    free(ds->n_samples);
    free(ds->frames);
    memset(ds, 0, sizeof *ds);
}

int sparq_dataset_load(struct sparq_dataset *ds, const char *manifest, int progress)
{
    memset(ds, 0, sizeof *ds);
    struct sparq_manifest man = { 0 };
    int rc = sparq_manifest_load(manifest, &man);
    if (rc)
        return rc;
    size_t n = man.count;
    ds->ids = calloc(n + 1, sizeof(char *));
    ds->texts = calloc(n + 1, sizeof(char *));
    ds->labels = calloc(n + 1, sizeof(int *));
    ds->n_labels = calloc(n + 1, sizeof(int));
    ds->samples = calloc(n + 1, sizeof(float *));
    ds->n_samples = calloc(n + 1, sizeof(size_t));
    ds->frames = calloc(n + 1, sizeof(int));
    if (!ds->ids || !ds->texts || !ds->labels || !ds->n_labels || !ds->samples || !ds->n_samples || !ds->frames) {
        sparq_manifest_free(&man);
        sparq_dataset_free(ds);
        return sparq_fail(SPARQ_ENOMEM, "%s: out of memory", manifest);
    }
    struct sparq_fbank_options fo;
    sparq_fbank_default_options(&fo);
    double t0 = sparq_clock_s(), last = t0;
    for (size_t i = 0; i < n && rc == SPARQ_OK; i++) {
        const struct sparq_utt *u = &man.utts[i];
        float *smp = NULL;
        size_t cnt = 0;
        rc = sparq_audio_load(u->audio_path, SAMPLE_RATE, &smp, &cnt);
        if (rc) {
            char msg[400];
            snprintf(msg, sizeof msg, "%s", sparq_last_error());
            rc = sparq_fail(rc, "%s: utterance %s: %s", manifest, u->id, msg);
            break;
        }
        char *text = sparq_text_normalize(u->text);
        if (!text) {
            free(smp);
            rc = sparq_fail(SPARQ_ENOMEM, "%s: out of memory", manifest);
            break;
        }
        int frames = sparq_fbank_num_frames(cnt, &fo);
        int len = (int)strlen(text);
        int *lab = malloc(sizeof(int) * (size_t)(len + 1));
        int nl = lab ? sparq_text_to_labels(text, lab, len) : 0;
        int need = nl;
        for (int k = 1; k < nl; k++)
            need += lab[k] == lab[k - 1];
        if (frames < 7 || sparq_sub_frames(frames) < need || nl == 0) {
            ds->skipped++;
            free(smp);
            free(text);
            free(lab);
            continue;
        }
        size_t j = ds->n++;
        ds->ids[j] = strdup(u->id);
        ds->texts[j] = text;
        ds->labels[j] = lab;
        ds->n_labels[j] = nl;
        ds->samples[j] = smp;
        ds->n_samples[j] = cnt;
        ds->frames[j] = frames;
        ds->seconds += (double)cnt / SAMPLE_RATE;
        double t = sparq_clock_s();
        if (progress && (t - last > 2.0 || i + 1 == n)) {
            double rate = (double)(i + 1) / (t - t0);
            fprintf(stderr, "loading %s: %zu/%zu utterances, %.2f h, %.0f utt/s, ETA %.0f s\n", manifest, i + 1,
                    n, ds->seconds / 3600.0, rate, (double)(n - i - 1) / rate);
            last = t;
        }
    }
    sparq_manifest_free(&man);
    if (rc == SPARQ_OK && ds->n == 0)
        rc = sparq_fail(SPARQ_EINVAL, "%s: no usable utterances (%zu skipped)", manifest, ds->skipped);
    if (rc)
        sparq_dataset_free(ds);
    return rc;
}

static uint64_t fnv_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

uint64_t sparq_dataset_hash(const struct sparq_dataset *ds)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < ds->n; i++) {
        // Each string with its NUL, so "ab"+"c" and "a"+"bc" differ.
        h = fnv_bytes(h, ds->ids[i], strlen(ds->ids[i]) + 1);
        h = fnv_bytes(h, ds->texts[i], strlen(ds->texts[i]) + 1);
        uint64_t ns = ds->n_samples[i];
        h = fnv_bytes(h, &ns, sizeof ns);
    }
    return h;
}

int sparq_dataset_features(const struct sparq_dataset *ds, size_t i, const struct sparq_fbank_plan *plan,
                           uint64_t seed, const struct sparq_model *m, float *out)
{
    int frames = 0;
    int rc = sparq_fbank_plan_run(plan, ds->samples[i], ds->n_samples[i], seed, out, &frames);
    if (rc)
        return rc;
    if (frames != ds->frames[i])
        return sparq_fail(SPARQ_EINVAL, "utterance %s: %d feature frames, expected %d", ds->ids[i], frames,
                          ds->frames[i]);
    sparq_apply_cmvn(m, out, frames);
    return SPARQ_OK;
}

static const struct sparq_dataset *sort_ds;
static int by_frames(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int fx = sort_ds->frames[x], fy = sort_ds->frames[y];
    if (fx != fy)
        return fx < fy ? -1 : 1;
    return x < y ? -1 : x > y; // stable: ties by index
}

int sparq_batches_make(struct sparq_batches *b, const struct sparq_dataset *ds, int max_frames, int max_utts)
{
    memset(b, 0, sizeof *b);
    b->order = sparq_malloc(sizeof(size_t) * (ds->n + 1), "batch order");
    b->start = sparq_malloc(sizeof(size_t) * (ds->n + 2), "batch offsets");
    if (!b->order || !b->start) {
        sparq_batches_free(b);
        return SPARQ_ENOMEM;
    }
    for (size_t i = 0; i < ds->n; i++)
        b->order[i] = i;
    sort_ds = ds;
    qsort(b->order, ds->n, sizeof(size_t), by_frames);
    size_t i = 0;
    while (i < ds->n) {
        b->start[b->n++] = i;
        size_t cnt = 0;
        // sorted ascending: the last utterance added is the longest
        while (i < ds->n && (cnt == 0 || ((long)cnt + 1) * ds->frames[b->order[i]] <= (long)max_frames) &&
               (max_utts <= 0 || (int)cnt < max_utts)) {
            cnt++;
            i++;
        }
    }
    b->start[b->n] = ds->n;
    return SPARQ_OK;
}

void sparq_batches_free(struct sparq_batches *b)
{
    free(b->order);
    free(b->start);
    memset(b, 0, sizeof *b);
}
