// Training loop on a tiny synthetic corpus: resume (after --max-steps and
// after a stop request) reproduces the uninterrupted run bit for bit;
// checkpoint files are validated on load; the loss goes down.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "sparq_audio.h"
#include "sparq_ctc.h"
#include "sparq_error.h"
#include "sparq_train.h"
#include "sparq_rng.h"

static char dir[256];

// What `sparq train` does on SIGINT: set the flag the loop polls.
static volatile sig_atomic_t sigint_flag;
static void on_sigint(int sig)
{
    (void)sig;
    sigint_flag = 1;
}

static int count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    int n = 0, c;
    if (!f)
        return 0;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)len + 1);
    if (p && fread(p, 1, (size_t)len, f) != (size_t)len) {
        free(p);
        p = NULL;
    }
    fclose(f);
    if (p) {
        p[len] = 0;
        *n = (size_t)len;
    }
    return p;
}

static int same_file(const char *a, const char *b)
{
    size_t na = 0, nb = 0;
    char *x = slurp(a, &na), *y = slurp(b, &nb);
    int same = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

// Ten utterances: each word is a tone whose pitch depends on its letters.
static void make_corpus(uint64_t seed)
{
    static const char *words[] = { "on", "off", "up", "down", "go", "stop" };
    char path[512];
    snprintf(path, sizeof path, "%s/train.jsonl", dir);
    FILE *man = fopen(path, "w");
    uint64_t rng = seed;
    for (int u = 0; u < 10; u++) {
        int nw = 1 + (int)(sparq_rng_next(&rng) % 3);
        char text[64] = "";
        size_t n = 0;
        float *s = calloc(16000 * 3, sizeof(float));
        for (int w = 0; w < nw; w++) {
            int k = (int)(sparq_rng_next(&rng) % 6);
            strcat(text, w ? " " : "");
            strcat(text, words[k]);
            double f0 = 200.0 + 150.0 * k;
            for (int i = 0; i < 6000; i++, n++)
                s[n] = (float)(3000.0 * sin(2 * M_PI * f0 * i / 16000.0) * sin(M_PI * i / 6000.0));
            n += 1600; // silence between words
        }
        char wav[512];
        snprintf(wav, sizeof wav, "%s/u%d.wav", dir, u);
        sparq_audio_write_wav16(wav, s, n, 16000);
        fprintf(man, "{\"id\": \"u%d\", \"audio_filepath\": \"u%d.wav\", \"duration\": %.4f, \"text\": \"%s\"}\n", u,
                u, n / 16000.0, text);
        free(s);
    }
    fclose(man);
    snprintf(path, sizeof path, "%s/tiny.cfg", dir);
    FILE *cfg = fopen(path, "w");
    fprintf(cfg, "# tiny model for tests\nn_mels = 20\nsub_channels = 4\nd_model = 16\nn_heads = 2\n"
                 "ffn_dim = 32\nkernel = 5\nn_layers = 2\n");
    fclose(cfg);
}

static void options(struct sparq_train_options *o, const char *out, char *buf_train, char *buf_cfg)
{
    sparq_train_default_options(o);
    snprintf(buf_train, 512, "%s/train.jsonl", dir);
    snprintf(buf_cfg, 512, "%s/tiny.cfg", dir);
    o->train_manifest = buf_train;
    o->dev_manifest = buf_train;
    o->config_path = buf_cfg;
    o->out_dir = out;
    o->epochs = 3;
    o->batch_frames = 500;
    o->lr = 3e-3f;
    o->warmup = 3;
    o->progress = 0;
}

// Child mode for the SIGINT check: train runD in `dir` with the handler installed.
static int sigint_child(const char *base)
{
    snprintf(dir, sizeof dir, "%s", base);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    struct sparq_train_options o;
    char tr[512], cf[512], d[512];
    snprintf(d, sizeof d, "%s/runD", dir);
    options(&o, d, tr, cf);
    o.stop = &sigint_flag;
    return sparq_train_run(&o) == 1 ? 42 : 0;
}

static long file_size(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

// Dropout (config key) in a real run: it changes the losses, and a run
// stopped by --max-steps and resumed (which takes dropout from --config
// again, since model files do not store it) replays the same masks.
static void check_dropout_resume(void)
{
    struct sparq_train_options o;
    char tr[512], cf[512], e[512], f[512], pe[600], pf[600], pa[600], dcfg[600], line[256];
    snprintf(dcfg, sizeof dcfg, "%s/tiny_drop.cfg", dir);
    snprintf(pa, sizeof pa, "%s/tiny.cfg", dir);
    FILE *in = fopen(pa, "r"), *out = fopen(dcfg, "w");
    while (in && out && fgets(line, sizeof line, in))
        fputs(line, out);
    if (out)
        fputs("dropout = 0.2\n", out);
    if (in)
        fclose(in);
    if (out)
        fclose(out);
    snprintf(e, sizeof e, "%s/runE", dir);
    snprintf(f, sizeof f, "%s/runF", dir);
    options(&o, e, tr, cf);
    o.config_path = dcfg;
    int rc = sparq_train_run(&o);
    options(&o, f, tr, cf);
    o.config_path = dcfg;
    o.max_steps = 3;
    int rc2 = sparq_train_run(&o);
    options(&o, f, tr, cf);
    o.config_path = dcfg;
    o.resume = 1;
    int rc3 = sparq_train_run(&o);
    snprintf(pe, sizeof pe, "%s/train_log.tsv", e);
    snprintf(pf, sizeof pf, "%s/train_log.tsv", f);
    snprintf(pa, sizeof pa, "%s/runA/train_log.tsv", dir);
    CHECK(rc == SPARQ_OK && rc2 == 1 && rc3 == SPARQ_OK && same_file(pe, pf) && !same_file(pe, pa),
          "dropout 0.2: losses differ from dropout 0; stopped at step 3 and resumed, identical step log");
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--sigint-child"))
        return sigint_child(argv[2]);
    char *self = argv[0];
    uint64_t seed = check_seed(7);
    sparq_threads_init();
    snprintf(dir, sizeof dir, "/tmp/sparq_test_train_XXXXXX");
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp");
        return check_done();
    }
    make_corpus(seed);
    char tr[512], cf[512], a[512], b[512], c[512], pa[600], pb[600];
    snprintf(a, sizeof a, "%s/runA", dir);
    snprintf(b, sizeof b, "%s/runB", dir);
    snprintf(c, sizeof c, "%s/runC", dir);

    struct sparq_train_options o;
    options(&o, a, tr, cf);
    int rc = sparq_train_run(&o);
    CHECK(rc == SPARQ_OK, "uninterrupted run (%s)", rc ? sparq_last_error() : "ok");

    // B: stop after 4 steps, resume to the end
    options(&o, b, tr, cf);
    o.max_steps = 4;
    rc = sparq_train_run(&o);
    CHECK(rc == 1, "max-steps run stops early and saves");
    // Resuming with the same --max-steps takes no further step.
    snprintf(pb, sizeof pb, "%s/train_log.tsv", b);
    long log_before = file_size(pb);
    options(&o, b, tr, cf);
    o.max_steps = 4;
    o.resume = 1;
    rc = sparq_train_run(&o);
    CHECK(rc == 1 && file_size(pb) == log_before, "resume at --max-steps stops without another step (log %ld -> %ld "
          "bytes)", log_before, file_size(pb));
    options(&o, b, tr, cf);
    o.resume = 1;
    rc = sparq_train_run(&o);
    CHECK(rc == SPARQ_OK, "resumed run completes (%s)", rc ? sparq_last_error() : "ok");
    snprintf(pa, sizeof pa, "%s/train_log.tsv", a);
    snprintf(pb, sizeof pb, "%s/train_log.tsv", b);
    CHECK(same_file(pa, pb), "resume after --max-steps: identical step log (losses, grad norms, lr)");
    snprintf(pa, sizeof pa, "%s/last.ckpt", a);
    snprintf(pb, sizeof pb, "%s/last.ckpt", b);
    CHECK(same_file(pa, pb), "resume after --max-steps: identical final checkpoint bytes");

    // C: a stop request (what SIGINT sets) after the first step, then resume twice
    volatile sig_atomic_t stop = 1;
    options(&o, c, tr, cf);
    o.stop = &stop;
    rc = sparq_train_run(&o);
    CHECK(rc == 1, "stop request saves and returns");
    options(&o, c, tr, cf);
    o.resume = 1;
    rc = sparq_train_run(&o);
    snprintf(pb, sizeof pb, "%s/last.ckpt", c);
    CHECK(rc == SPARQ_OK && same_file(pa, pb), "resume after a stop request: identical final checkpoint");

    // D: a real SIGINT delivered to a training process (a child) mid-run, then resume
    char d[512], logd[600];
    snprintf(d, sizeof d, "%s/runD", dir);
    snprintf(logd, sizeof logd, "%s/train_log.tsv", d);
    fflush(stdout);
    // fork + exec: libgomp's thread pool does not survive a plain fork.
    pid_t pid = fork();
    if (pid == 0) {
        char *args[] = { self, "--sigint-child", dir, NULL };
        execv("/proc/self/exe", args);
        _exit(3);
    }
    for (int i = 0; i < 2000 && count_lines(logd) < 2; i++)
        usleep(5000);
    kill(pid, SIGINT);
    int status = 0, waited = 0;
    while (waitpid(pid, &status, WNOHANG) == 0 && waited < 120000) {
        usleep(10000);
        waited += 10;
    }
    if (waited >= 120000) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    printf("# SIGINT child exit %d after %d log lines\n", code, count_lines(logd));
    options(&o, d, tr, cf);
    o.resume = 1;
    rc = code == 42 ? sparq_train_run(&o) : SPARQ_OK;
    snprintf(pb, sizeof pb, "%s/last.ckpt", d);
    CHECK((code == 42 || code == 0) && rc == SPARQ_OK && same_file(pa, pb),
          "SIGINT mid-run saves; resume gives the uninterrupted run's checkpoint (child exit %d)", code);

    // losses go down over the run
    snprintf(pa, sizeof pa, "%s/train_log.tsv", a);
    size_t n;
    char *logtxt = slurp(pa, &n);
    double first = 0, last = 0;
    int steps = 0;
    for (char *line = strtok(logtxt, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#')
            continue;
        long long st, ep;
        double loss;
        if (sscanf(line, "%lld %lld %lf", &st, &ep, &loss) == 3) {
            if (!steps)
                first = loss;
            last = loss;
            steps++;
        }
    }
    free(logtxt);
    CHECK(steps > 6 && last < first, "loss decreases: %.3f -> %.3f over %d steps", first, last, steps);

    // checkpoint validation
    struct sparq_model m;
    struct sparq_adamw opt;
    struct sparq_train_state st;
    rc = sparq_checkpoint_load(pa[0] ? pb : pb, &m, &opt, &st);
    CHECK(rc == SPARQ_OK && st.step == steps, "checkpoint loads with its step (%lld)", (long long)st.step);
    if (rc == SPARQ_OK) {
        sparq_adamw_free(&opt);
        sparq_model_free(&m);
    }
    size_t len;
    char *bytes = slurp(pb, &len);
    char bad[600];
    snprintf(bad, sizeof bad, "%s/bad.ckpt", dir);
    bytes[len / 2] ^= 1;
    sparq_write_file_atomic(bad, bytes, len);
    rc = sparq_checkpoint_load(bad, &m, NULL, NULL);
    CHECK(rc == SPARQ_EFORMAT && strstr(sparq_last_error(), "checksum"), "flipped bit: %s", sparq_last_error());
    bytes[len / 2] ^= 1;
    sparq_write_file_atomic(bad, bytes, len - 100);
    rc = sparq_checkpoint_load(bad, &m, NULL, NULL);
    CHECK(rc == SPARQ_EFORMAT, "truncated: %s", sparq_last_error());
    bytes[0] = 'X';
    sparq_write_file_atomic(bad, bytes, len);
    rc = sparq_checkpoint_load(bad, &m, NULL, NULL);
    CHECK(rc == SPARQ_EFORMAT && strstr(sparq_last_error(), "magic"), "bad magic: %s", sparq_last_error());
    free(bytes);
    snprintf(pa, sizeof pa, "%s/model.sparq", a);
    rc = sparq_checkpoint_load(pa, &m, &opt, NULL);
    CHECK(rc == SPARQ_EFORMAT && strstr(sparq_last_error(), "optimizer"), "model file as checkpoint: %s",
          sparq_last_error());
    rc = sparq_checkpoint_load(pa, &m, NULL, NULL);
    CHECK(rc == SPARQ_OK, "model file loads");
    if (rc == SPARQ_OK)
        sparq_model_free(&m);

    check_dropout_resume();

    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", dir);
    return check_done();
}
