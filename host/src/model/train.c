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
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "sparq_ctc.h"
#include "sparq_dist.h"
#include "sparq_error.h"
#include "sparq_layers.h"
#include "sparq_train.h"
#include "sparq_wer.h"
#include "sparq_rng.h"

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
static void on_stop_signal(int sig)
{
    (void)sig;
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

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
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

// Keeps the log up to the `lines`-th step line and the comment lines (dev
// results) right after it: a crash may have left lines past the checkpoint.
static int truncate_log(const char *path, int64_t lines)
{
    size_t n = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return lines == 0 ? SPARQ_OK : sparq_fail(SPARQ_EIO, "%s: missing although resuming at step %lld", path,
                                                  (long long)lines);
    size_t cap = 1 << 16;
    char *buf = malloc(cap), line[1024];
    int64_t seen = 0;
    while (buf && fgets(line, sizeof line, f)) {
        int comment = line[0] == '#';
        if (!comment && seen == lines)
            break;
        size_t l = strlen(line);
        if (n + l + 1 > cap) {
            char *nb = realloc(buf, cap * 2 + l);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap = cap * 2 + l;
        }
        memcpy(buf + n, line, l);
        n += l;
        seen += !comment;
    }
    fclose(f);
    if (!buf)
        return sparq_fail(SPARQ_ENOMEM, "%s: out of memory", path);
    int rc = seen == lines ? sparq_write_file_atomic(path, buf, n)
                           : sparq_fail(SPARQ_EFORMAT, "%s: %lld step lines, checkpoint is at step %lld", path,
                                        (long long)seen, (long long)lines);
    free(buf);
    return rc;
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

static const struct sparq_train_hooks *save_hooks; // the run's hooks, for save_ckpt

// Every rank calls it at the same step; rank 0 writes (hook state first,
// then last.ckpt), after checking that all ranks hold the same weights.
static int save_ckpt(const char *dir, const struct sparq_model *m, const struct sparq_adamw *opt,
                     const struct sparq_train_state *st)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/last.ckpt", dir);
    int rc = sparq_dist_check_same(m->param_mem, sizeof(float) * m->n_params, "the model's parameters");
    if (rc || !sparq_dist_is_root())
        return rc;
    rc = save_hooks && save_hooks->save ? save_hooks->save(save_hooks->ctx, dir) : SPARQ_OK;
    return rc ? rc : sparq_checkpoint_save(path, m, opt, st);
}

// Floats per gradient allreduce bucket (4 MB): several in flight at once.
#define GRAD_BUCKET ((size_t)1 << 20)

static void dist_batch_sum(double *buf, size_t n) { sparq_dist_allreduce_f64(buf, n); }

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

int sparq_train_run(const struct sparq_train_options *o)
{
    struct sparq_model m = { 0 };
    struct sparq_adamw opt = { 0 };
    struct sparq_train_state st = { 0, 0, 0, o->seed, 1e9 };
    struct sparq_dataset train = { 0 }, dev = { 0 };
    struct sparq_batches bt = { 0 };
    struct sparq_fbank_plan *plan = NULL;
    struct sparq_acts *acts = NULL;
    float *feats = NULL, *dlogits = NULL;
    int *lens = NULL, *tl = NULL, *tg = NULL;
    size_t *perm = NULL;
    FILE *log = NULL;
    int rc;
    char path[4096], logpath[4096];

    save_hooks = o->hooks;
    if ((rc = sparq_dist_init()))
        return rc;
    // Data parallel (docs/scaling.md): every rank holds the whole model and
    // takes a contiguous share of each global batch; only rank 0 writes files
    // or prints progress.
    const int rank = sparq_dist_rank(), nranks = sparq_dist_size(), root = rank == 0;
    const int progress = o->progress && root;
    sparq_set_batchnorm_sum_hook(nranks > 1 ? dist_batch_sum : NULL);
    if (root && mkdir(o->out_dir, 0755) != 0 && errno != EEXIST) {
        rc = sparq_fail(SPARQ_EIO, "%s: cannot create directory: %s", o->out_dir, strerror(errno));
        goto out;
    }
    snprintf(path, sizeof path, "%s/last.ckpt", o->out_dir);
    snprintf(logpath, sizeof logpath, "%s/train_log.tsv", o->out_dir);

    if ((rc = sparq_dataset_load(&train, o->train_manifest, progress)))
        goto out;
    if (o->dev_manifest && (rc = sparq_dataset_load(&dev, o->dev_manifest, progress)))
        goto out;
    if (progress)
        fprintf(stderr, "train: %zu utterances (%.2f h, %zu skipped)%s", train.n, train.seconds / 3600,
                train.skipped, o->dev_manifest ? "" : "\n");
    if (progress && o->dev_manifest)
        fprintf(stderr, "; dev: %zu utterances (%.2f h, %zu skipped)\n", dev.n, dev.seconds / 3600, dev.skipped);

    struct sparq_fbank_options fo;
    sparq_fbank_default_options(&fo);
    if (o->resume) {
        if ((rc = sparq_checkpoint_load(path, &m, &opt, &st)))
            goto out;
        if (root && (rc = truncate_log(logpath, st.step)))
            goto out;
        if (o->hooks && o->hooks->load && (rc = o->hooks->load(o->hooks->ctx, o->out_dir)))
            goto out;
        if (progress)
            fprintf(stderr, "resuming %s at step %lld (epoch %lld, batch %lld)\n", path, (long long)st.step,
                    (long long)st.epoch, (long long)st.batch);
    } else if (o->init_from) {
        if ((rc = sparq_checkpoint_load(o->init_from, &m, NULL, NULL)))
            goto out;
        if ((rc = sparq_adamw_init(&opt, &m, 0.9f, 0.98f, 1e-9f, o->weight_decay)))
            goto out;
    } else {
        struct sparq_config cfg;
        if (o->config_path)
            rc = sparq_config_load(&cfg, o->config_path);
        else
            sparq_config_default(&cfg), rc = SPARQ_OK;
        if (rc || (rc = sparq_model_create(&m, &cfg)))
            goto out;
        sparq_model_init(&m, o->seed);
        if ((rc = sparq_adamw_init(&opt, &m, 0.9f, 0.98f, 1e-9f, o->weight_decay)))
            goto out;
    }
    fo.num_mel_bins = m.cfg.n_mels;
    fo.dither = o->dither;
    if ((rc = sparq_fbank_plan_create(&plan, &fo)))
        goto out;
    if (!o->resume) {
        // A model we start from keeps the feature normalisation it was trained with.
        // Rank 0 computes it; share_state() hands it to the others.
        if (root && !o->init_from && (rc = compute_cmvn(&m, &train, plan, o->seed ^ 0xc3c3)))
            goto out;
    }
    share_state(&m, &opt, &st);
    if (!o->resume && root) {
        FILE *f = fopen(logpath, "w");
        if (!f) {
            rc = sparq_fail(SPARQ_EIO, "%s: %s", logpath, strerror(errno));
            goto out;
        }
        fclose(f);
    }
    log = root ? fopen(logpath, "a") : NULL;
    if (root && !log) {
        rc = sparq_fail(SPARQ_EIO, "%s: %s", logpath, strerror(errno));
        goto out;
    }
    if ((rc = sparq_batches_make(&bt, &train, o->batch_frames, o->max_utts)))
        goto out;
    int maxf = 0, maxl = 0;
    size_t maxb = 0;
    for (size_t i = 0; i < train.n; i++) {
        maxf = train.frames[i] > maxf ? train.frames[i] : maxf;
        maxl += train.n_labels[i];
    }
    for (size_t b = 0; b < bt.n; b++)
        maxb = bt.start[b + 1] - bt.start[b] > maxb ? bt.start[b + 1] - bt.start[b] : maxb;
    feats = sparq_malloc(sizeof(float) * maxb * (size_t)maxf * m.cfg.n_mels, "batch features");
    dlogits = sparq_malloc(sizeof(float) * maxb * (size_t)sparq_sub_frames(maxf) * m.cfg.vocab, "logit gradients");
    lens = sparq_malloc(sizeof(int) * maxb, "lengths");
    tl = sparq_malloc(sizeof(int) * maxb, "target lengths");
    tg = sparq_malloc(sizeof(int) * (size_t)(maxl + 1), "targets");
    perm = sparq_malloc(sizeof(size_t) * bt.n, "batch permutation");
    acts = sparq_acts_create(&m.cfg, 1, 64);
    if (!feats || !dlogits || !lens || !tl || !tg || !perm || !acts) {
        rc = SPARQ_ENOMEM;
        goto out;
    }
    struct sparq_specaug_options sa;
    sparq_specaug_default_options(&sa);
    int64_t total_steps = (int64_t)o->epochs * (int64_t)bt.n;
    if (progress)
        fprintf(stderr, "model: %zu parameters, %d layers, d=%d; %zu batches/epoch, %lld steps, %d threads%s%s\n",
                m.n_params, m.cfg.n_layers, m.cfg.d_model, bt.n, (long long)total_steps, omp_get_max_threads(),
                nranks > 1 ? " x " : "", nranks > 1 ? sparq_dist_describe() : "");
    double t_start = now_s(), t_last = t_start;
    int64_t steps_here = 0;
    double audio_here = 0.0, utts_here = 0.0;
    int stopped = 0;

    // A resumed run that already reached --max-steps stops without another step.
    if (o->max_steps > 0 && st.step >= o->max_steps)
        stopped = 1;
    // Steps this run will end at, for the progress line (the learning-rate
    // schedule still spans all epochs).
    int64_t end_step = o->max_steps > 0 && o->max_steps < total_steps ? o->max_steps : total_steps;
    while (st.epoch < o->epochs && !stopped) {
        // Batch order of this epoch: Fisher-Yates from (seed, epoch).
        uint64_t rng = mix(st.seed, (uint64_t)st.epoch + 1);
        for (size_t i = 0; i < bt.n; i++)
            perm[i] = i;
        for (size_t i = bt.n; i > 1; i--) {
            size_t j = (size_t)(sparq_rng_next(&rng) % i), t = perm[i - 1];
            perm[i - 1] = perm[j];
            perm[j] = t;
        }
        double loss_sum = 0.0;
        int64_t loss_n = 0;
        for (int64_t bi = st.batch; bi < (int64_t)bt.n; bi++) {
            size_t b = perm[bi], s0 = bt.start[b], Bg = bt.start[b + 1] - s0, lo, hi;
            double audio = 0.0;
            for (size_t k = 0; k < Bg; k++)
                audio += (double)train.n_samples[bt.order[s0 + k]] / 16000.0;
            // This rank's share of the global batch: utterances [lo, hi) of it.
            sparq_dist_share(Bg, rank, nranks, &lo, &hi);
            s0 += lo;
            size_t B = hi - lo;
            int T = 0, nt = 0;
            for (size_t k = 0; k < B; k++) {
                size_t u = bt.order[s0 + k];
                lens[k] = train.frames[u];
                T = lens[k] > T ? lens[k] : T;
                tl[k] = train.n_labels[u];
                memcpy(tg + nt, train.labels[u], sizeof(int) * (size_t)tl[k]);
                nt += tl[k];
            }
            memset(feats, 0, sizeof(float) * B * (size_t)T * m.cfg.n_mels);
            int frc = SPARQ_OK;
#pragma omp parallel for schedule(dynamic)
            for (size_t k = 0; k < B; k++) {
                size_t u = bt.order[s0 + k];
                uint64_t us = mix(mix(st.seed, (uint64_t)st.epoch + 1), u + 1);
                float *f = feats + k * (size_t)T * m.cfg.n_mels;
                int r = sparq_dataset_features(&train, u, plan, us, &m, f);
                if (r) {
#pragma omp critical
                    frc = r;
                } else if (o->specaug) {
                    uint64_t ar = mix(us, 0x5a5a);
                    sparq_specaugment(f, lens[k], m.cfg.n_mels, &sa, &ar);
                }
            }
            if ((rc = frc))
                goto out;
            if (o->hooks && o->hooks->pre_forward && (rc = o->hooks->pre_forward(o->hooks->ctx, &m, st.step)))
                goto out;
            double loss = 0.0;
            sparq_model_zero_grad(&m);
            if (B > 0) {
                int T2 = sparq_forward(&m, acts, feats, lens, (int)B, T, 1);
                if (T2 < 0) {
                    rc = T2;
                    goto out;
                }
                loss = sparq_ctc_batch(sparq_acts_logits(acts), sparq_acts_out_lens(acts), (int)B, T2, m.cfg.vocab,
                                       tg, tl, dlogits, NULL);
                if (o->hooks && o->hooks->post_loss &&
                    (rc = o->hooks->post_loss(o->hooks->ctx, feats, lens, (int)B, T, sparq_acts_logits(acts),
                                              sparq_acts_out_lens(acts), T2, m.cfg.vocab, dlogits, &loss)))
                    goto out;
                if (B != Bg) {
                    // The loss is a mean over the global batch's utterances:
                    // this share weighs B/Bg, and the ranks' gradients add up.
                    float w = (float)B / (float)Bg;
                    size_t nd = B * (size_t)T2 * m.cfg.vocab;
                    for (size_t i = 0; i < nd; i++)
                        dlogits[i] *= w;
                    loss *= (double)B / (double)Bg;
                }
                sparq_backward(&m, acts, dlogits);
            } else {
                // No utterance here this step: still take part in every
                // BatchNorm statistics sum, in the order a pass makes them.
                for (int l = 0; l < m.cfg.n_layers; l++)
                    batchnorm_forward_idle(m.cfg.d_model);
                for (int l = 0; l < m.cfg.n_layers; l++)
                    batchnorm_backward_idle(m.cfg.d_model);
            }
            if (nranks > 1) {
                sparq_dist_allreduce_f32_buckets(m.grad_mem, m.n_params, GRAD_BUCKET);
                // Global loss, and one stop decision for all ranks.
                double red[2] = { loss, o->stop && *o->stop ? 1.0 : 0.0 };
                sparq_dist_allreduce_f64(red, 2);
                loss = red[0];
                if (red[1] > 0 && o->stop)
                    *o->stop = 1;
            }
            if (o->hooks && o->hooks->pre_step)
                o->hooks->pre_step(o->hooks->ctx, &m);
            double gnorm = sparq_clip_grad_norm(&m, o->clip);
            float lr = sparq_lr_at(st.step, o->lr, o->warmup, total_steps, o->final_lr_ratio);
            if (isfinite(gnorm))
                sparq_adamw_step(&opt, &m, lr);
            st.step++;
            st.batch = bi + 1;
            if (log) {
                fprintf(log, "%lld\t%lld\t%.9g\t%.9g\t%.9g\n", (long long)st.step, (long long)st.epoch, loss,
                        gnorm, (double)lr);
                fflush(log);
            }
            loss_sum += loss;
            loss_n++;
            steps_here++;
            audio_here += audio;
            utts_here += (double)Bg;
            double t = now_s();
            int last_of_epoch = bi + 1 == (int64_t)bt.n;
            int stop_now = (o->stop && *o->stop) || (o->max_steps > 0 && st.step >= o->max_steps);
            if (progress && (t - t_last >= 10.0 || last_of_epoch || stop_now || steps_here == 1)) {
                double el = t - t_start;
                char eta[32];
                fmt_secs(eta, sizeof eta, el / (double)steps_here * (double)(end_step - st.step));
                fprintf(stderr,
                        "epoch %lld/%d step %lld/%lld loss %.4f (avg %.4f) |g| %.2f lr %.2e | %.1f utt/s %.1f "
                        "audio-s/s | ETA %s\n",
                        (long long)st.epoch + 1, o->epochs, (long long)st.step, (long long)end_step, loss,
                        loss_sum / (double)loss_n, gnorm, (double)lr, utts_here / el, audio_here / el, eta);
                t_last = t;
            }
            if (stop_now) {
                stopped = 1;
                break;
            }
            if (o->save_every > 0 && st.step % o->save_every == 0 && (rc = save_ckpt(o->out_dir, &m, &opt, &st)))
                goto out;
        }
        if (stopped)
            break;
        st.epoch++;
        st.batch = 0;
        double wer = -1, cer = -1;
        if (o->dev_manifest) {
            if (o->hooks && o->hooks->pre_forward && (rc = o->hooks->pre_forward(o->hooks->ctx, &m, st.step)))
                goto out;
            rc = dev_wer(&m, &dev, o->dev_max_utts, o->batch_frames, &wer, &cer);
            if (o->hooks && o->hooks->after_eval)
                o->hooks->after_eval(o->hooks->ctx, &m);
            if (rc)
                goto out;
            if (progress)
                fprintf(stderr, "epoch %lld done: train loss %.4f, dev WER %.2f%% CER %.2f%%\n", (long long)st.epoch,
                        loss_n ? loss_sum / (double)loss_n : 0.0, 100 * wer, 100 * cer);
            if (log) {
                fprintf(log, "# epoch %lld dev_wer %.6f dev_cer %.6f\n", (long long)st.epoch, wer, cer);
                fflush(log);
            }
        }
        int better = !o->dev_manifest || wer < st.best_dev_wer;
        if (o->dev_manifest && better)
            st.best_dev_wer = wer;
        if ((rc = save_ckpt(o->out_dir, &m, &opt, &st)))
            goto out;
        if (better && root) {
            char mp[4096];
            snprintf(mp, sizeof mp, "%s/model.sparq", o->out_dir);
            if ((rc = sparq_checkpoint_save(mp, &m, NULL, NULL)))
                goto out;
        }
    }
    if (stopped) {
        if ((rc = save_ckpt(o->out_dir, &m, &opt, &st)))
            goto out;
        if (progress)
            fprintf(stderr, "stopped at step %lld; saved %s (continue with --resume)\n", (long long)st.step, path);
        rc = 1;
    }
out:
    sparq_set_batchnorm_sum_hook(NULL);
    if (rc < 0 && nranks > 1) {
        // The other ranks would wait for this one in the next collective.
        fprintf(stderr, "sparq: rank %d of %d: %s\n", rank, nranks, sparq_last_error());
        sparq_dist_abort(1);
    }
    if (log)
        fclose(log);
    free(feats);
    free(dlogits);
    free(lens);
    free(tl);
    free(tg);
    free(perm);
    sparq_acts_free(acts);
    sparq_fbank_plan_free(plan);
    sparq_batches_free(&bt);
    sparq_dataset_free(&train);
    sparq_dataset_free(&dev);
    sparq_adamw_free(&opt);
    if (m.param_mem)
        sparq_model_free(&m);
    return rc;
}

void sparq_bench_batch(int B, int *lens, int *target_lens)
{
    for (int b = 0; b < B; b++) {
        lens[b] = 400 - 8 * (b % 25);
        target_lens[b] = lens[b] / 10;
    }
}

int sparq_train_bench(const struct sparq_config *c, int B, int steps, struct sparq_bench_result *r)
{
    int rc = sparq_dist_init();
    if (rc)
        return rc;
    const int rank = sparq_dist_rank(), nranks = sparq_dist_size();
    struct sparq_model m;
    if ((rc = sparq_model_create(&m, c)))
        return rc;
    sparq_model_init(&m, 1);
    struct sparq_adamw opt;
    int *lens = malloc(sizeof(int) * (size_t)B), *tl = malloc(sizeof(int) * (size_t)B);
    if (!lens || !tl || (rc = sparq_adamw_init(&opt, &m, 0.9f, 0.98f, 1e-9f, 0.01f))) {
        free(lens);
        free(tl);
        sparq_model_free(&m);
        return rc ? rc : SPARQ_ENOMEM;
    }
    sparq_bench_batch(B, lens, tl);
    int T = lens[0], nt = 0;
    for (int b = 0; b < B; b++)
        nt += tl[b];
    // The global batch is generated identically on every rank; each rank
    // trains on its contiguous share, padded to its own longest utterance.
    size_t lo, hi;
    sparq_dist_share((size_t)B, rank, nranks, &lo, &hi);
    int Bl = (int)(hi - lo), Tl = 0, to = 0;
    for (int b = 0; b < (int)lo; b++)
        to += tl[b];
    for (int b = (int)lo; b < (int)hi; b++)
        Tl = lens[b] > Tl ? lens[b] : Tl;
    float *x = malloc(sizeof(float) * (size_t)B * T * c->n_mels);
    float *xl = malloc(sizeof(float) * ((size_t)Bl * Tl * c->n_mels + 1));
    int *tg = malloc(sizeof(int) * (size_t)nt);
    float *dl = malloc(sizeof(float) * ((size_t)Bl * sparq_sub_frames(Tl > 7 ? Tl : 7) * c->vocab + 1));
    struct sparq_acts *a = sparq_acts_create(c, Bl > 0 ? Bl : 1, Tl > 7 ? Tl : 7);
    uint64_t rng = 42;
    for (size_t i = 0; x && i < (size_t)B * T * c->n_mels; i++)
        x[i] = (float)sparq_rng_normal(&rng);
    for (int i = 0; tg && i < nt; i++)
        tg[i] = 1 + (int)(sparq_rng_next(&rng) % (uint64_t)(c->vocab - 1));
    for (int k = 0; x && xl && k < Bl; k++)
        memcpy(xl + (size_t)k * Tl * c->n_mels, x + (lo + (size_t)k) * T * c->n_mels,
               sizeof(float) * (size_t)Tl * c->n_mels);
    memset(r, 0, sizeof *r);
    r->B = B;
    r->steps = steps;
    r->ranks = nranks;
    for (int b = 0; b < B; b++)
        r->audio_s += lens[b] * 0.01;
    sparq_set_batchnorm_sum_hook(nranks > 1 ? dist_batch_sum : NULL);
    double t0 = 0, c0 = 0;
    int ok = x && xl && tg && dl && a;
    for (int s = 0; ok && s <= steps; s++) {
        if (s == 1) {
            sparq_dist_barrier();
            t0 = now_s();
            c0 = sparq_dist_comm_seconds();
        }
        double loss = 0.0;
        sparq_model_zero_grad(&m);
        if (Bl > 0) {
            int T2 = sparq_forward(&m, a, xl, lens + lo, Bl, Tl, 1);
            loss = sparq_ctc_batch(sparq_acts_logits(a), sparq_acts_out_lens(a), Bl, T2, c->vocab, tg + to,
                                   tl + lo, dl, NULL);
            if (Bl != B) {
                float w = (float)Bl / (float)B;
                for (size_t i = 0; i < (size_t)Bl * T2 * c->vocab; i++)
                    dl[i] *= w;
                loss *= (double)Bl / B;
            }
            sparq_backward(&m, a, dl);
        } else {
            for (int l = 0; l < c->n_layers; l++)
                batchnorm_forward_idle(c->d_model);
            for (int l = 0; l < c->n_layers; l++)
                batchnorm_backward_idle(c->d_model);
        }
        if (nranks > 1) {
            // Time waiting for the slower rank apart from the allreduce itself.
            double tw = now_s();
            sparq_dist_barrier();
            if (s > 0)
                r->wait_s += now_s() - tw;
            sparq_dist_allreduce_f32_buckets(m.grad_mem, m.n_params, GRAD_BUCKET);
            sparq_dist_allreduce_f64(&loss, 1);
        }
        sparq_clip_grad_norm(&m, 5.0);
        sparq_adamw_step(&opt, &m, 1e-3f);
        if (s == 0)
            r->loss_first = loss;
        r->loss_last = loss;
    }
    sparq_dist_barrier();
    r->step_s = (now_s() - t0) / steps;
    // Means over the ranks (the slowest rank itself never waits).
    double times[2] = { (sparq_dist_comm_seconds() - c0) / steps, r->wait_s / steps };
    sparq_dist_allreduce_f64(times, 2);
    r->comm_s = times[0] / nranks;
    r->wait_s = times[1] / nranks;
    r->audio_per_s = r->audio_s / r->step_s;
    sparq_set_batchnorm_sum_hook(NULL);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    r->peak_rss_mb = (double)ru.ru_maxrss / 1024.0;
    rc = ok ? SPARQ_OK : sparq_fail(SPARQ_ENOMEM, "out of memory for the benchmark batch");
    free(x);
    free(xl);
    free(tg);
    free(dl);
    free(lens);
    free(tl);
    sparq_acts_free(a);
    sparq_adamw_free(&opt);
    sparq_model_free(&m);
    return rc;
}
