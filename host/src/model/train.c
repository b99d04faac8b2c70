// The `sparq train` loop: batches by frames, dithered fbank + CMVN +
// SpecAugment, forward/CTC/backward, clipping, AdamW with warm-up + cosine
// decay, checkpoints (resume is bit-identical), dev WER per epoch.
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sparq_clock.h"
#include "sparq_ctc.h"
#include "sparq_dist.h"
#include "sparq_error.h"
#include "sparq_layers.h"
#include "sparq_train.h"
#include "sparq_wer.h"
#include "sparq_rng.h"
#include "train_internal.h"

void sparq_train_default_options(struct sparq_train_options *o)
{
    memset(o, 0, sizeof *o);
    o->epochs = 20;
    o->batch_frames = 12000;
    o->max_utts = 64;
    o->lr = 2e-3f;
    o->final_lr_ratio = 0.02f;
    o->weight_decay = 1e-2f;
    o->clip = 5.0f;
    o->warmup = 500;
    o->seed = 1;
    o->specaug = 1;
    o->dither = SPARQ_FBANK_TRAIN_DITHER;
    o->progress = 1;
}

static volatile sig_atomic_t stop_requested;
// The first signal asks for a checkpoint and a clean stop; a second one (the
// save of a big model takes a while, and a user presses Ctrl-C again) exits
// at once: last.ckpt is replaced by rename only, so it stays the previous
// one, and the next start removes the half-written temporary.
static void on_stop_signal(int sig)
{
    if (stop_requested) {
        static const char msg[] = "sparq: second signal: exiting without saving (the last checkpoint is kept)\n";
        ssize_t w = write(2, msg, sizeof msg - 1);
        (void)w;
        _exit(128 + sig);
    }
    stop_requested = 1;
}

volatile sig_atomic_t *sparq_train_stop_on_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL); // what mpirun forwards to every rank (docs/scaling.md)
    return &stop_requested;
}

static uint64_t mix(uint64_t a, uint64_t b)
{
    uint64_t s = a ^ (b * 0x9e3779b97f4a7c15ull);
    return sparq_rng_next(&s);
}

static void fmt_secs(char *buf, size_t n, double s)
{
    if (!(s >= 0) || s > 1e7)
        snprintf(buf, n, "?");
    else if (s >= 3600)
        snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
    else
        snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
}

// Global CMVN over the training set (features dithered with a fixed seed).
static int compute_cmvn(struct sparq_model *m, const struct sparq_dataset *ds, const struct sparq_fbank_plan *plan,
                        uint64_t seed)
{
    struct sparq_cmvn cm;
    int rc = sparq_cmvn_init(&cm, m->cfg.n_mels);
    if (rc)
        return rc;
    int maxf = 0;
    for (size_t i = 0; i < ds->n; i++)
        maxf = ds->frames[i] > maxf ? ds->frames[i] : maxf;
    float *f = sparq_malloc(sizeof(float) * (size_t)maxf * m->cfg.n_mels, "CMVN features");
    if (!f) {
        sparq_cmvn_free(&cm);
        return SPARQ_ENOMEM;
    }
    for (size_t i = 0; i < ds->n && rc == SPARQ_OK; i++) {
        int frames;
        rc = sparq_fbank_plan_run(plan, ds->samples[i], ds->n_samples[i], mix(seed, i), f, &frames);
        if (rc == SPARQ_OK)
            sparq_cmvn_accumulate(&cm, f, frames);
    }
    if (rc == SPARQ_OK && (rc = sparq_cmvn_finalize(&cm)) == SPARQ_OK) {
        memcpy(m->buf.cmvn_mean, cm.mean, sizeof(float) * m->cfg.n_mels);
        memcpy(m->buf.cmvn_istd, cm.istd, sizeof(float) * m->cfg.n_mels);
    }
    free(f);
    sparq_cmvn_free(&cm);
    return rc;
}

static int dev_wer(struct sparq_model *m, const struct sparq_dataset *dev, int dev_max, int max_frames, double *wer,
                   double *cer)
{
    struct sparq_dataset view = *dev;
    if (dev_max > 0 && (size_t)dev_max < view.n)
        view.n = (size_t)dev_max;
    char **hyps = calloc(view.n, sizeof(char *));
    if (!hyps)
        return sparq_fail(SPARQ_ENOMEM, "out of memory for dev hypotheses");
    // Every rank decodes its share; rank 0 scores and tells the others.
    int rc = sparq_decode_dataset_dist(m, &view, max_frames, 1, hyps);
    double res[2] = { 0, 0 };
    if (rc == SPARQ_OK && sparq_dist_is_root()) {
        struct sparq_score sc;
        rc = sparq_score_pairs((const char *const *)view.ids, (const char *const *)view.texts,
                               (const char *const *)hyps, view.n, &sc);
        if (rc == SPARQ_OK) {
            res[0] = sparq_error_rate(&sc.words);
            res[1] = sparq_error_rate(&sc.chars);
            sparq_score_free(&sc);
        }
    }
    if (rc == SPARQ_OK) {
        sparq_dist_bcast(res, sizeof res, 0);
        *wer = res[0];
        *cer = res[1];
    }
    for (size_t i = 0; i < view.n; i++)
        free(hyps[i]);
    free(hyps);
    return rc;
}

// Every rank calls it at the same step; rank 0 writes (hook state first,
// then last.ckpt), after checking that all ranks hold the same weights.
static int save_ckpt(const struct sparq_train_hooks *hooks, const char *dir, const struct sparq_model *m,
                     const struct sparq_adamw *opt, const struct sparq_train_state *st)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/last.ckpt", dir);
    int rc = sparq_dist_check_same(m->param_mem, sizeof(float) * m->n_params, "the model's parameters");
    if (rc || !sparq_dist_is_root())
        return rc;
    rc = hooks && hooks->save ? hooks->save(hooks->ctx, dir) : SPARQ_OK;
    return rc ? rc : sparq_checkpoint_save(path, m, opt, st);
}

void train_dist_batch_sum(void *ctx, double *buf, size_t n)
{
    (void)ctx;
    sparq_dist_allreduce_f64(buf, n);
}

// Makes every rank start from rank 0's weights, buffers, optimizer state and
// position (they are equal already unless files differ between nodes).
static void share_state(struct sparq_model *m, struct sparq_adamw *opt, struct sparq_train_state *st)
{
    sparq_dist_bcast(m->param_mem, sizeof(float) * m->n_params, 0);
    sparq_dist_bcast(m->buffer_mem, sizeof(float) * m->n_buffers, 0);
    sparq_dist_bcast(opt->m, sizeof(float) * m->n_params, 0);
    sparq_dist_bcast(opt->v, sizeof(float) * m->n_params, 0);
    sparq_dist_bcast(&opt->t, sizeof opt->t, 0);
    sparq_dist_bcast(st, sizeof *st, 0);
}

// Everything one sparq_train_run holds, shared by the steps it is split into.
struct train_run {
    const struct sparq_train_options *o;
    const struct sparq_train_hooks *hooks; // o->hooks
    struct sparq_model m;
    struct sparq_adamw opt;
    struct sparq_train_state st;
    struct sparq_dataset train, dev;
    struct sparq_batches bt;
    struct sparq_fbank_plan *plan;
    struct sparq_specaug_options sa;
    struct sparq_acts *acts;
    float *feats, *dlogits;
    float *buf_backup; // the model's buffers before this step (a skipped step restores them)
    int *lens, *tl, *tg;
    size_t *perm;
    FILE *log;
    int rank, nranks, root, progress;
    char path[4096], logpath[4096];
    struct sparq_run_info run_now; // this session's settings (checkpoints record them)
    int nonfinite;                 // consecutive steps with a non-finite loss or gradient norm
    int64_t total_steps, end_step;
    // Progress since this run started, and the loss of the current epoch.
    double t_start, t_last, audio_here, utts_here, loss_sum;
    int64_t steps_here, loss_n;
};

// The model and optimizer to train: resumed, started from a model, or fresh;
// then the fbank plan and (fresh runs) the CMVN, shared from rank 0.
static int run_load_model(struct train_run *r)
{
    const struct sparq_train_options *o = r->o;
    int rc;
    if (o->resume) {
        if ((rc = sparq_checkpoint_load(r->path, &r->m, &r->opt, &r->st)))
            return rc;
        if (r->root)
            train_warn_resume(r->path, &r->st, &r->run_now, o->seed);
        if (r->root && (rc = train_log_rewind(r->logpath, r->st.step)))
            return rc;
        if (r->hooks && r->hooks->load && (rc = r->hooks->load(r->hooks->ctx, o->out_dir)))
            return rc;
        if (r->progress)
            fprintf(stderr, "resuming %s at step %lld (epoch %lld, batch %lld)\n", r->path, (long long)r->st.step,
                    (long long)r->st.epoch, (long long)r->st.batch);
    } else if (o->init_from) {
        if ((rc = sparq_checkpoint_load(o->init_from, &r->m, NULL, NULL)))
            return rc;
        if ((rc = sparq_adamw_init(&r->opt, &r->m, 0.9f, 0.98f, 1e-9f, o->weight_decay)))
            return rc;
    } else {
        struct sparq_config cfg;
        if (o->config_path)
            rc = sparq_config_load(&cfg, o->config_path);
        else
            sparq_config_default(&cfg), rc = SPARQ_OK;
        if (rc || (rc = sparq_model_create(&r->m, &cfg)))
            return rc;
        sparq_model_init(&r->m, o->seed);
        if ((rc = sparq_adamw_init(&r->opt, &r->m, 0.9f, 0.98f, 1e-9f, o->weight_decay)))
            return rc;
    }
    // Dropout is a training setting, not stored in model files: a resumed or
    // fine-tuned run takes it from --config again.
    if ((o->resume || o->init_from) && o->config_path) {
        struct sparq_config cfg;
        if ((rc = sparq_config_load(&cfg, o->config_path)))
            return rc;
        r->m.cfg.dropout = cfg.dropout;
    }
    // BatchNorm statistics of the global batch when the batch is split.
    if (r->nranks > 1)
        r->m.hooks.batch_sum = (struct sparq_batch_sum){ train_dist_batch_sum, NULL };
    struct sparq_fbank_options fo;
    sparq_fbank_default_options(&fo);
    fo.num_mel_bins = r->m.cfg.n_mels;
    fo.dither = o->dither;
    if ((rc = sparq_fbank_plan_create(&r->plan, &fo)))
        return rc;
    // A model we start from keeps the feature normalisation it was trained with.
    // Rank 0 computes it; share_state() hands it to the others.
    if (!o->resume && r->root && !o->init_from && (rc = compute_cmvn(&r->m, &r->train, r->plan, o->seed ^ 0xc3c3)))
        return rc;
    share_state(&r->m, &r->opt, &r->st);
    // Checkpoints from now on record this session's settings.
    r->st.run = r->run_now;
    return SPARQ_OK;
}

// train_log.tsv: created empty by a fresh run, appended to (rank 0 only).
static int run_open_log(struct train_run *r)
{
    if (!r->root)
        return SPARQ_OK;
    if (!r->o->resume) {
        FILE *f = fopen(r->logpath, "w");
        if (!f)
            return sparq_fail(SPARQ_EIO, "%s: %s", r->logpath, strerror(errno));
        fclose(f);
    }
    r->log = fopen(r->logpath, "a");
    return r->log ? SPARQ_OK : sparq_fail(SPARQ_EIO, "%s: %s", r->logpath, strerror(errno));
}

// Batches and the buffers sized for the largest of them.
static int run_alloc(struct train_run *r)
{
    int rc = sparq_batches_make(&r->bt, &r->train, r->o->batch_frames, r->o->max_utts);
    if (rc)
        return rc;
    int maxf = 0, maxl = 0;
    size_t maxb = 0;
    for (size_t i = 0; i < r->train.n; i++) {
        maxf = r->train.frames[i] > maxf ? r->train.frames[i] : maxf;
        maxl += r->train.n_labels[i];
    }
    for (size_t b = 0; b < r->bt.n; b++)
        maxb = r->bt.start[b + 1] - r->bt.start[b] > maxb ? r->bt.start[b + 1] - r->bt.start[b] : maxb;
    const struct sparq_config *c = &r->m.cfg;
    r->feats = sparq_malloc(sizeof(float) * maxb * (size_t)maxf * c->n_mels, "batch features");
    r->dlogits = sparq_malloc(sizeof(float) * maxb * (size_t)sparq_sub_frames(maxf) * c->vocab, "logit gradients");
    r->lens = sparq_malloc(sizeof(int) * maxb, "lengths");
    r->tl = sparq_malloc(sizeof(int) * maxb, "target lengths");
    r->tg = sparq_malloc(sizeof(int) * (size_t)(maxl + 1), "targets");
    r->perm = sparq_malloc(sizeof(size_t) * r->bt.n, "batch permutation");
    r->buf_backup = sparq_malloc(sizeof(float) * r->m.n_buffers, "buffer backup");
    r->acts = sparq_acts_create(c, 1, 64);
    if (!r->feats || !r->dlogits || !r->lens || !r->tl || !r->tg || !r->perm || !r->buf_backup || !r->acts)
        return SPARQ_ENOMEM;
    sparq_specaug_default_options(&r->sa);
    return SPARQ_OK;
}

// Lengths, targets and (augmented) features of utterances [s0, s0+B) of the
// epoch's order; *T the longest.
static int run_load_batch(struct train_run *r, size_t s0, size_t B, int *T)
{
    const struct sparq_dataset *tr = &r->train;
    int n_mels = r->m.cfg.n_mels, nt = 0;
    *T = 0;
    for (size_t k = 0; k < B; k++) {
        size_t u = r->bt.order[s0 + k];
        r->lens[k] = tr->frames[u];
        *T = r->lens[k] > *T ? r->lens[k] : *T;
        r->tl[k] = tr->n_labels[u];
        memcpy(r->tg + nt, tr->labels[u], sizeof(int) * (size_t)r->tl[k]);
        nt += r->tl[k];
    }
    const int Tb = *T;
    memset(r->feats, 0, sizeof(float) * B * (size_t)Tb * n_mels);
    int frc = SPARQ_OK;
#pragma omp parallel for schedule(dynamic)
    for (size_t k = 0; k < B; k++) {
        size_t u = r->bt.order[s0 + k];
        uint64_t us = mix(mix(r->st.seed, (uint64_t)r->st.epoch + 1), u + 1);
        float *f = r->feats + k * (size_t)Tb * n_mels;
        int e = sparq_dataset_features(tr, u, r->plan, us, &r->m, f);
        if (e) {
#pragma omp critical
            frc = e;
        } else if (r->o->specaug) {
            uint64_t ar = mix(us, 0x5a5a);
            sparq_specaugment(f, r->lens[k], n_mels, &r->sa, &ar);
        }
    }
    return frc;
}

// Forward, CTC (+ the post_loss hook), backward on this rank's B of the
// global batch's Bg utterances; *loss this share's part of the global mean.
static int run_forward_backward(struct train_run *r, size_t B, size_t Bg, int T, double *loss)
{
    struct sparq_model *m = &r->m;
    // Dropout masks from (seed, step, rank): a resumed run draws the same ones.
    m->dropout_seed = mix(mix(r->st.seed ^ 0xd409u, (uint64_t)r->st.step + 1), (uint64_t)r->rank + 1);
    int T2 = sparq_forward(m, r->acts, r->feats, r->lens, (int)B, T, 1);
    if (T2 < 0)
        return T2;
    const float *logits = sparq_acts_logits(r->acts);
    const int *out_lens = sparq_acts_out_lens(r->acts);
    *loss = sparq_ctc_batch(logits, out_lens, (int)B, T2, m->cfg.vocab, r->tg, r->tl, r->dlogits, NULL);
    int rc;
    if (r->hooks && r->hooks->post_loss &&
        (rc = r->hooks->post_loss(r->hooks->ctx, r->feats, r->lens, (int)B, T, logits, out_lens, T2, m->cfg.vocab,
                                  r->dlogits, loss)))
        return rc;
    if (B != Bg) {
        // The loss is a mean over the global batch's utterances:
        // this share weighs B/Bg, and the ranks' gradients add up.
        float w = (float)B / (float)Bg;
        size_t nd = B * (size_t)T2 * m->cfg.vocab;
        for (size_t i = 0; i < nd; i++)
            r->dlogits[i] *= w;
        *loss *= (double)B / (double)Bg;
    }
    sparq_backward(m, r->acts, r->dlogits);
    return SPARQ_OK;
}

static void run_progress(struct train_run *r, double t, double loss, double gnorm, float lr)
{
    double el = t - r->t_start;
    char eta[32];
    fmt_secs(eta, sizeof eta, el / (double)r->steps_here * (double)(r->end_step - r->st.step));
    fprintf(stderr,
            "epoch %lld/%d step %lld/%lld loss %.4f (avg %.4f) |g| %.2f lr %.2e | %.1f utt/s %.1f "
            "audio-s/s | ETA %s\n",
            (long long)r->st.epoch + 1, r->o->epochs, (long long)r->st.step, (long long)r->end_step, loss,
            r->loss_sum / (double)r->loss_n, gnorm, (double)lr, r->utts_here / el, r->audio_here / el, eta);
}

// One optimizer step on batch bi of the epoch's order; *stop_now when the run
// is to stop after it.
static int run_step(struct train_run *r, int64_t bi, int *stop_now)
{
    const struct sparq_train_options *o = r->o;
    struct sparq_model *m = &r->m;
    size_t b = r->perm[bi], s0 = r->bt.start[b], Bg = r->bt.start[b + 1] - s0, lo, hi;
    double audio = 0.0;
    for (size_t k = 0; k < Bg; k++)
        audio += (double)r->train.n_samples[r->bt.order[s0 + k]] / 16000.0;
    // This rank's share of the global batch: utterances [lo, hi) of it.
    sparq_dist_share(Bg, r->rank, r->nranks, &lo, &hi);
    size_t B = hi - lo;
    int T, rc = run_load_batch(r, s0 + lo, B, &T);
    if (rc)
        return rc;
    if (r->hooks && r->hooks->pre_forward && (rc = r->hooks->pre_forward(r->hooks->ctx, m, r->st.step)))
        return rc;
    double loss = 0.0;
    sparq_model_zero_grad(m);
    memcpy(r->buf_backup, m->buffer_mem, sizeof(float) * m->n_buffers);
    if (B > 0) {
        if ((rc = run_forward_backward(r, B, Bg, T, &loss)))
            return rc;
    } else {
        // No utterance here this step: still take part in every
        // BatchNorm statistics sum, in the order a pass makes them.
        for (int l = 0; l < m->cfg.n_layers; l++)
            batchnorm_forward_idle(&m->hooks.batch_sum, m->cfg.d_model);
        for (int l = 0; l < m->cfg.n_layers; l++)
            batchnorm_backward_idle(&m->hooks.batch_sum, m->cfg.d_model);
    }
    if (r->nranks > 1) {
        sparq_dist_allreduce_f32_buckets(m->grad_mem, m->n_params, GRAD_BUCKET);
        // Global loss, and one stop decision for all ranks.
        double red[2] = { loss, o->stop && *o->stop ? 1.0 : 0.0 };
        sparq_dist_allreduce_f64(red, 2);
        loss = red[0];
        if (red[1] > 0 && o->stop)
            *o->stop = 1;
    }
    if (r->hooks && r->hooks->pre_step)
        r->hooks->pre_step(r->hooks->ctx, m);
    double gnorm = sparq_clip_grad_norm(m, o->clip);
    float lr = sparq_lr_at(r->st.step, o->lr, o->warmup, r->total_steps, o->final_lr_ratio);
    // A non-finite step is skipped: the weights, and the BatchNorm running
    // statistics its forward pass updated, stay as they were (so a checkpoint
    // never holds a NaN). Many in a row mean the run diverged: it stops
    // without saving anything.
    int finite = isfinite(gnorm) && isfinite(loss);
    r->nonfinite = finite ? 0 : r->nonfinite + 1;
    if (finite)
        sparq_adamw_step(&r->opt, m, lr);
    else
        memcpy(m->buffer_mem, r->buf_backup, sizeof(float) * m->n_buffers);
    r->st.step++;
    r->st.batch = bi + 1;
    if (r->log && (rc = train_log_printf(r->log, r->logpath, "%lld\t%lld\t%.9g\t%.9g\t%.9g\n", (long long)r->st.step,
                                         (long long)r->st.epoch, loss, gnorm, (double)lr)))
        return rc;
    if (r->nonfinite >= SPARQ_TRAIN_MAX_NONFINITE)
        return sparq_fail(SPARQ_EINVAL, "training diverged: %d steps in a row up to step %lld had a non-finite loss "
                          "or gradient (loss %g, |g| %g); stopping without saving, %s is the last good checkpoint "
                          "(try a lower --lr)", r->nonfinite, (long long)r->st.step, loss, gnorm, r->path);
    r->loss_sum += loss;
    r->loss_n++;
    r->steps_here++;
    r->audio_here += audio;
    r->utts_here += (double)Bg;
    double t = sparq_clock_s();
    int last_of_epoch = bi + 1 == (int64_t)r->bt.n;
    int stop = (o->stop && *o->stop) || (o->max_steps > 0 && r->st.step >= o->max_steps);
    // mpirun forwards a signal to each rank at its own moment: rank 0's view
    // decides, so every rank stops after the same step (a rank that stopped
    // alone would wait in save_ckpt's collective while the others wait in the
    // next step's).
    if (r->nranks > 1)
        sparq_dist_bcast(&stop, sizeof stop, 0);
    *stop_now = stop;
    if (r->progress && (t - r->t_last >= 10.0 || last_of_epoch || *stop_now || r->steps_here == 1)) {
        run_progress(r, t, loss, gnorm, lr);
        r->t_last = t;
    }
    return SPARQ_OK;
}

// The rest of the current epoch; *stopped when stopped before its end.
static int run_epoch(struct train_run *r, int *stopped)
{
    // Batch order of this epoch: Fisher-Yates from (seed, epoch).
    uint64_t rng = mix(r->st.seed, (uint64_t)r->st.epoch + 1);
    for (size_t i = 0; i < r->bt.n; i++)
        r->perm[i] = i;
    for (size_t i = r->bt.n; i > 1; i--) {
        size_t j = (size_t)(sparq_rng_next(&rng) % i), t = r->perm[i - 1];
        r->perm[i - 1] = r->perm[j];
        r->perm[j] = t;
    }
    r->loss_sum = 0.0;
    r->loss_n = 0;
    for (int64_t bi = r->st.batch; bi < (int64_t)r->bt.n; bi++) {
        int stop_now = 0, rc = run_step(r, bi, &stop_now);
        if (rc)
            return rc;
        if (stop_now) {
            *stopped = 1;
            return SPARQ_OK;
        }
        if (r->o->save_every > 0 && r->st.step % r->o->save_every == 0 &&
            (rc = save_ckpt(r->hooks, r->o->out_dir, &r->m, &r->opt, &r->st)))
            return rc;
    }
    return SPARQ_OK;
}

// After a full epoch: dev WER, checkpoint, model.sparq when the best so far.
static int run_epoch_end(struct train_run *r)
{
    const struct sparq_train_options *o = r->o;
    int rc;
    r->st.epoch++;
    r->st.batch = 0;
    double wer = -1, cer = -1;
    if (o->dev_manifest) {
        if (r->hooks && r->hooks->pre_forward && (rc = r->hooks->pre_forward(r->hooks->ctx, &r->m, r->st.step)))
            return rc;
        rc = dev_wer(&r->m, &r->dev, o->dev_max_utts, o->batch_frames, &wer, &cer);
        if (r->hooks && r->hooks->after_eval)
            r->hooks->after_eval(r->hooks->ctx, &r->m);
        if (rc)
            return rc;
        if (r->progress)
            fprintf(stderr, "epoch %lld done: train loss %.4f, dev WER %.2f%% CER %.2f%%\n", (long long)r->st.epoch,
                    r->loss_n ? r->loss_sum / (double)r->loss_n : 0.0, 100 * wer, 100 * cer);
        if (r->log && (rc = train_log_printf(r->log, r->logpath, "# epoch %lld dev_wer %.6f dev_cer %.6f\n",
                                             (long long)r->st.epoch, wer, cer)))
            return rc;
    }
    int better = !o->dev_manifest || wer < r->st.best_dev_wer;
    if (o->dev_manifest && better)
        r->st.best_dev_wer = wer;
    if ((rc = save_ckpt(r->hooks, o->out_dir, &r->m, &r->opt, &r->st)))
        return rc;
    if (better && r->root) {
        char mp[4096];
        snprintf(mp, sizeof mp, "%s/model.sparq", o->out_dir);
        if ((rc = sparq_checkpoint_save(mp, &r->m, NULL, NULL)))
            return rc;
    }
    return SPARQ_OK;
}

// Data sets, model, log and buffers, up to the first step.
static int run_setup(struct train_run *r)
{
    const struct sparq_train_options *o = r->o;
    int rc;
    if (r->root && mkdir(o->out_dir, 0755) != 0 && errno != EEXIST)
        return sparq_fail(SPARQ_EIO, "%s: cannot create directory: %s", o->out_dir, strerror(errno));
    snprintf(r->path, sizeof r->path, "%s/last.ckpt", o->out_dir);
    snprintf(r->logpath, sizeof r->logpath, "%s/train_log.tsv", o->out_dir);
    if ((rc = sparq_dataset_load(&r->train, o->train_manifest, r->progress)))
        return rc;
    if (o->dev_manifest && (rc = sparq_dataset_load(&r->dev, o->dev_manifest, r->progress)))
        return rc;
    if (r->progress)
        fprintf(stderr, "train: %zu utterances (%.2f h, %zu skipped)%s", r->train.n, r->train.seconds / 3600,
                r->train.skipped, o->dev_manifest ? "" : "\n");
    if (r->progress && o->dev_manifest)
        fprintf(stderr, "; dev: %zu utterances (%.2f h, %zu skipped)\n", r->dev.n, r->dev.seconds / 3600,
                r->dev.skipped);
    train_run_info(&r->run_now, o, &r->train);
    if ((rc = run_load_model(r)) || (rc = run_open_log(r)) || (rc = run_alloc(r)))
        return rc;
    r->total_steps = (int64_t)o->epochs * (int64_t)r->bt.n;
    // Steps this run will end at, for the progress line (the learning-rate
    // schedule still spans all epochs).
    r->end_step = o->max_steps > 0 && o->max_steps < r->total_steps ? o->max_steps : r->total_steps;
    if (r->progress)
        fprintf(stderr, "model: %zu parameters, %d layers, d=%d; %zu batches/epoch, %lld steps, %d threads%s%s\n",
                r->m.n_params, r->m.cfg.n_layers, r->m.cfg.d_model, r->bt.n, (long long)r->total_steps,
                omp_get_max_threads(), r->nranks > 1 ? " x " : "", r->nranks > 1 ? sparq_dist_describe() : "");
    return SPARQ_OK;
}

static void run_free(struct train_run *r)
{
    if (r->log)
        fclose(r->log);
    free(r->feats);
    free(r->dlogits);
    free(r->lens);
    free(r->tl);
    free(r->tg);
    free(r->perm);
    free(r->buf_backup);
    sparq_acts_free(r->acts);
    sparq_fbank_plan_free(r->plan);
    sparq_batches_free(&r->bt);
    sparq_dataset_free(&r->train);
    sparq_dataset_free(&r->dev);
    sparq_adamw_free(&r->opt);
    if (r->m.param_mem)
        sparq_model_free(&r->m);
    free(r);
}

int sparq_train_run(const struct sparq_train_options *o)
{
    int rc = sparq_dist_init();
    if (rc)
        return rc;
    struct train_run *r = sparq_calloc(1, sizeof *r, "training state");
    if (!r)
        return SPARQ_ENOMEM;
    r->o = o;
    r->hooks = o->hooks;
    r->st = (struct sparq_train_state){ .seed = o->seed, .best_dev_wer = 1e9 };
    // Data parallel (docs/scaling.md): every rank holds the whole model and
    // takes a contiguous share of each global batch; only rank 0 writes files
    // or prints progress.
    r->rank = sparq_dist_rank();
    r->nranks = sparq_dist_size();
    r->root = r->rank == 0;
    r->progress = o->progress && r->root;
    rc = run_setup(r);
    r->t_start = r->t_last = sparq_clock_s();
    // A resumed run that already reached --max-steps stops without another step.
    int stopped = o->max_steps > 0 && r->st.step >= o->max_steps;
    while (!rc && r->st.epoch < o->epochs && !stopped) {
        rc = run_epoch(r, &stopped);
        if (!rc && !stopped)
            rc = run_epoch_end(r);
    }
    if (!rc && stopped && !(rc = save_ckpt(r->hooks, o->out_dir, &r->m, &r->opt, &r->st))) {
        if (r->progress)
            fprintf(stderr, "stopped at step %lld; saved %s (continue with --resume)\n", (long long)r->st.step,
                    r->path);
        rc = 1;
    }
    if (rc < 0 && r->nranks > 1) {
        // The other ranks would wait for this one in the next collective.
        fprintf(stderr, "sparq: rank %d of %d: %s\n", r->rank, r->nranks, sparq_last_error());
        sparq_dist_abort(1);
    }
    run_free(r);
    return rc;
}
