// What stops or warns a training run (issue 14): a diverging run (NaN loss
// and gradients) stops after SPARQ_TRAIN_MAX_NONFINITE steps in a row with an
// error, its checkpoints stay loadable (a skipped step also undoes the
// BatchNorm statistics its forward pass changed); a failed write of
// train_log.tsv (a full disk: the log is a link to /dev/full) stops the run
// with an error naming the file; --resume trusts the checkpoint over a log
// that is shorter, and warns about each setting that differs from the
// checkpoint's (seed, manifest, learning rate).
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "sparq_audio.h"
#include "sparq_error.h"
#include "sparq_rng.h"
#include "sparq_train.h"

static char dir[256], manifest[512], manifest9[512], cfgpath[512];

// Eight (or nine, for the other manifest) utterances of tones.
static void make_corpus(uint64_t seed)
{
    snprintf(manifest, sizeof manifest, "%s/train.jsonl", dir);
    snprintf(manifest9, sizeof manifest9, "%s/other.jsonl", dir);
    FILE *man = fopen(manifest, "w"), *man9 = fopen(manifest9, "w");
    uint64_t rng = seed;
    for (int u = 0; u < 9; u++) {
        size_t n = 8000 + 1000 * (sparq_rng_next(&rng) % 8);
        float *s = calloc(n, sizeof(float));
        double f0 = 200.0 + 100.0 * (u % 5);
        for (size_t i = 0; i < n; i++)
            s[i] = (float)(3000.0 * sin(2 * M_PI * f0 * (double)i / 16000.0));
        char wav[512], line[512];
        snprintf(wav, sizeof wav, "%s/u%d.wav", dir, u);
        sparq_audio_write_wav16(wav, s, n, 16000);
        snprintf(line, sizeof line,
                 "{\"id\": \"u%d\", \"audio_filepath\": \"u%d.wav\", \"duration\": %.4f, \"text\": \"%s\"}\n", u, u,
                 (double)n / 16000.0, u % 2 ? "go up" : "stop");
        if (u < 8)
            fputs(line, man);
        fputs(line, man9);
        free(s);
    }
    fclose(man);
    fclose(man9);
    snprintf(cfgpath, sizeof cfgpath, "%s/tiny.cfg", dir);
    FILE *cfg = fopen(cfgpath, "w");
    fprintf(cfg, "n_mels = 20\nsub_channels = 4\nd_model = 16\nn_heads = 2\nffn_dim = 32\nkernel = 5\nn_layers = 2\n");
    fclose(cfg);
}

static void options(struct sparq_train_options *o, const char *out)
{
    sparq_train_default_options(o);
    o->train_manifest = manifest;
    o->config_path = cfgpath;
    o->out_dir = out;
    o->epochs = 40;
    o->batch_frames = 300;
    o->lr = 3e-3f;
    o->warmup = 2;
    o->progress = 0;
}

// From step `from` on, a NaN in one depthwise conv weight during the forward
// pass (put back after the loss): NaN activations, BatchNorm statistics,
// loss and gradients, as in a diverging run.
struct poison { int64_t from; float saved; int active; };
static int poison_pre(void *ctx, struct sparq_model *m, int64_t step)
{
    struct poison *p = ctx;
    p->active = step >= p->from;
    if (p->active) {
        p->saved = m->p.layer[0].conv_dw_w[0];
        m->p.layer[0].conv_dw_w[0] = NAN;
    }
    return SPARQ_OK;
}
static struct sparq_model *poisoned_model;
static int poison_post(void *ctx, const float *feats, const int *lens, int B, int T, const float *logits,
                       const int *out_lens, int T2, int V, float *dlogits, double *loss)
{
    (void)feats, (void)lens, (void)B, (void)T, (void)logits, (void)out_lens, (void)T2, (void)V, (void)dlogits,
        (void)loss;
    struct poison *p = ctx;
    if (p->active)
        poisoned_model->p.layer[0].conv_dw_w[0] = p->saved;
    return SPARQ_OK;
}
static int poison_pre_keep(void *ctx, struct sparq_model *m, int64_t step)
{
    poisoned_model = m;
    return poison_pre(ctx, m, step);
}

static void check_divergence(void)
{
    char out[512], ck[600];
    snprintf(out, sizeof out, "%s/diverge", dir);
    struct sparq_train_options o;
    options(&o, out);
    o.save_every = 2;
    struct poison p = { .from = 3 };
    struct sparq_train_hooks h = { .ctx = &p, .pre_forward = poison_pre_keep, .post_loss = poison_post };
    o.hooks = &h;
    int rc = sparq_train_run(&o);
    CHECK(rc == SPARQ_EINVAL && strstr(sparq_last_error(), "training diverged: 10 steps in a row up to step 13"),
          "a diverging run stops after %d non-finite steps (rc %d): %s", SPARQ_TRAIN_MAX_NONFINITE, rc,
          sparq_last_error());
    snprintf(ck, sizeof ck, "%s/last.ckpt", out);
    struct sparq_model m;
    struct sparq_adamw opt;
    struct sparq_train_state st;
    rc = sparq_checkpoint_load(ck, &m, &opt, &st);
    CHECK(rc == SPARQ_OK && st.step == 12, "the last checkpoint (step %lld) loads: BatchNorm statistics of the "
          "skipped steps were undone (%s)", rc ? -1LL : (long long)st.step, rc ? sparq_last_error() : "ok");
    if (rc == SPARQ_OK) {
        sparq_adamw_free(&opt);
        sparq_model_free(&m);
    }
}

static void check_log_full(void)
{
    char out[512], log[600], ck[600];
    snprintf(out, sizeof out, "%s/full", dir);
    mkdir(out, 0755);
    snprintf(log, sizeof log, "%s/train_log.tsv", out);
    snprintf(ck, sizeof ck, "%s/last.ckpt", out);
    int linked = symlink("/dev/full", log) == 0;
    struct sparq_train_options o;
    options(&o, out);
    o.epochs = 2;
    int rc = linked ? sparq_train_run(&o) : 0;
    CHECK(rc == SPARQ_EIO && strstr(sparq_last_error(), "train_log.tsv: write failed: No space left on device"),
          "a log write error (disk full) stops training: %s", sparq_last_error());
    CHECK(access(ck, F_OK) != 0, "  ... before any checkpoint or model was written");
}

// Runs sparq_train_run(o) with stderr in `errpath`.
static int run_capturing(const struct sparq_train_options *o, const char *errpath)
{
    fflush(stderr);
    int saved = dup(2), fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 2);
    close(fd);
    int rc = sparq_train_run(o);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    return rc;
}

static int count_in(const char *path, const char *text)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    int n = 0;
    while (f && fgets(line, sizeof line, f))
        n += strstr(line, text) != NULL;
    if (f)
        fclose(f);
    return n;
}

static void check_resume(void)
{
    char out[512], log[600], err[600];
    snprintf(out, sizeof out, "%s/short", dir);
    snprintf(log, sizeof log, "%s/train_log.tsv", out);
    snprintf(err, sizeof err, "%s/resume.err", dir);
    struct sparq_train_options o;
    options(&o, out);
    o.max_steps = 5;
    int rc = sparq_train_run(&o);
    // Keep two of the five step lines: the log lost writes the checkpoint did not.
    FILE *f = fopen(log, "r");
    char keep[4096] = "", line[512];
    for (int i = 0; f && i < 2 && fgets(line, sizeof line, f); i++)
        strcat(keep, line);
    if (f)
        fclose(f);
    f = fopen(log, "w");
    if (f) {
        fputs(keep, f);
        fclose(f);
    }
    options(&o, out);
    o.resume = 1;
    o.max_steps = 7;
    int rc2 = run_capturing(&o, err);
    CHECK(rc == 1 && rc2 == 1 && count_in(err, "ends at step 2, the checkpoint is at step 5") == 1,
          "resume trusts the checkpoint over a shorter log (rc %d): %s", rc2, rc2 < 0 ? sparq_last_error() : "");
    CHECK(count_in(log, "\t") == 4 && count_in(log, "6\t") >= 1 && count_in(log, "7\t") >= 1,
          "  ... and the log goes on from the checkpoint's step (steps 1, 2, 6, 7)");
    CHECK(count_in(err, "warning") == 1, "  ... with no other warning when the settings are the same");
    // Another seed, learning rate and manifest: one warning line each.
    options(&o, out);
    o.resume = 1;
    o.max_steps = 8;
    o.seed = 99;
    o.lr = 1e-3f;
    o.train_manifest = manifest9;
    rc = run_capturing(&o, err);
    CHECK(rc == 1 && count_in(err, "--seed 99 differs from 1 in") == 1 && count_in(err, "keeps 1") == 1,
          "resume warns about another --seed");
    CHECK(count_in(err, "--lr 0.001 differs from 0.003") == 1, "resume warns about another --lr");
    CHECK(count_in(err, "other.jsonl holds other data (9 utterances) than") == 1 &&
              count_in(err, "train.jsonl (8)") == 1,
          "resume warns about another training manifest");
    CHECK(count_in(err, "warning") == 3, "  ... one line each, nothing else");
}

int main(void)
{
    uint64_t seed = check_seed(21);
    sparq_threads_init();
    snprintf(dir, sizeof dir, "/tmp/sparq_test_train_guard_XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    make_corpus(seed);
    check_divergence();
    check_log_full();
    check_resume();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", dir);
    return check_done();
}
