// train_log.tsv (one line per step, comment lines with dev results) and the
// checks --resume makes of what the checkpoint recorded.
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sparq_error.h"
#include "sparq_file.h"
#include "train_internal.h"

// A log of a billion steps is ~50 GB; this bounds what --resume reads.
#define LOG_MAX_BYTES ((size_t)1 << 32)

int train_log_rewind(const char *path, int64_t step)
{
    char *text = NULL;
    size_t len = 0;
    if (!sparq_file_exists(path)) {
        if (step > 0)
            fprintf(stderr, "sparq train: warning: %s is missing, the checkpoint is at step %lld; starting a new "
                    "log (trusting the checkpoint)\n", path, (long long)step);
        return SPARQ_OK;
    }
    int rc = sparq_read_file(path, LOG_MAX_BYTES, &text, &len);
    if (rc)
        return rc;
    // Keep whole lines up to the first step line past the checkpoint; a torn
    // last line (no newline) or one that does not start with a step number
    // ends the log too.
    size_t keep = 0;
    int64_t last = 0;
    for (size_t off = 0; off < len;) {
        char *nl = memchr(text + off, '\n', len - off);
        if (!nl)
            break;
        if (text[off] != '#') {
            char *end;
            errno = 0;
            long long s = strtoll(text + off, &end, 10);
            if (end == text + off || *end != '\t' || errno || s < 1 || s > step)
                break;
            last = s;
        }
        off = (size_t)(nl - text) + 1;
        keep = off;
    }
    if (last < step)
        fprintf(stderr, "sparq train: warning: %s ends at step %lld, the checkpoint is at step %lld; the log has "
                "no lines for steps %lld..%lld (trusting the checkpoint)\n", path, (long long)last,
                (long long)step, (long long)last + 1, (long long)step);
    rc = keep < len ? sparq_write_file_atomic(path, text, keep) : SPARQ_OK;
    free(text);
    return rc;
}

int train_log_printf(FILE *f, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    errno = 0;
    int n = vfprintf(f, fmt, ap);
    va_end(ap);
    if (n < 0 || fflush(f) != 0 || ferror(f))
        return sparq_fail(SPARQ_EIO, "%s: write failed: %s; stopping (the last checkpoint is kept)", path,
                          errno ? strerror(errno) : "error");
    return SPARQ_OK;
}

void train_run_info(struct sparq_run_info *run, const struct sparq_train_options *o,
                    const struct sparq_dataset *train)
{
    memset(run, 0, sizeof *run);
    run->valid = 1;
    run->data_hash = sparq_dataset_hash(train);
    run->n_utts = train->n;
    run->lr = o->lr;
    run->final_lr_ratio = o->final_lr_ratio;
    run->clip = o->clip;
    run->dither = o->dither;
    run->warmup = o->warmup;
    run->epochs = o->epochs;
    run->batch_frames = o->batch_frames;
    run->max_utts = o->max_utts;
    run->specaug = o->specaug;
    snprintf(run->manifest, sizeof run->manifest, "%s", o->train_manifest ? o->train_manifest : "");
}

#define WARN "sparq train: warning: "

void train_warn_resume(const char *ckpt, const struct sparq_train_state *st, const struct sparq_run_info *now,
                       uint64_t seed)
{
    if (seed != st->seed)
        fprintf(stderr, WARN "--seed %llu differs from %llu in %s; the run keeps %llu\n", (unsigned long long)seed,
                (unsigned long long)st->seed, ckpt, (unsigned long long)st->seed);
    const struct sparq_run_info *was = &st->run;
    if (!was->valid)
        return;
    if (was->data_hash != now->data_hash || was->n_utts != now->n_utts)
        fprintf(stderr, WARN "--train %s holds other data (%llu utterances) than %s (%llu) the checkpoint %s was "
                "trained on; continuing on %s\n", now->manifest, (unsigned long long)now->n_utts, was->manifest,
                (unsigned long long)was->n_utts, ckpt, now->manifest);
    const char *const fname[4] = { "--lr", "--final-lr", "--clip", "--dither" };
    const float fwas[4] = { was->lr, was->final_lr_ratio, was->clip, was->dither };
    const float fnow[4] = { now->lr, now->final_lr_ratio, now->clip, now->dither };
    for (int i = 0; i < 4; i++)
        if (fwas[i] != fnow[i])
            fprintf(stderr, WARN "%s %g differs from %g in %s; continuing with %g\n", fname[i], (double)fnow[i],
                    (double)fwas[i], ckpt, (double)fnow[i]);
    const char *const iname[5] = { "--warmup", "--epochs", "--batch-frames", "--max-utts", "SpecAugment (on=1)" };
    const long long iwas[5] = { was->warmup, was->epochs, was->batch_frames, was->max_utts, was->specaug };
    const long long inow[5] = { now->warmup, now->epochs, now->batch_frames, now->max_utts, now->specaug };
    for (int i = 0; i < 5; i++)
        if (iwas[i] != inow[i])
            fprintf(stderr, WARN "%s %lld differs from %lld in %s; continuing with %lld\n", iname[i], inow[i],
                    iwas[i], ckpt, inow[i]);
}
