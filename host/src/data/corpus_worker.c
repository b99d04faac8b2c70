// The worker side of the corpus generator (corpus_job.h): each worker
// process reads jobs from a pipe, speaks the text with espeak-ng, flite or
// one persistent festival, converts with sox (16 kHz mono, channel effects),
// adds noise, and writes the result back.
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "corpus_job.h"
#include "sparq_audio.h"
#include "sparq_error.h"
#include "sparq_file.h"
#include "sparq_rng.h"

extern char **environ;

// Runs argv, stdout and stderr to /dev/null; 0 if it exited with status 0.
static int run(char *const argv[])
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return -1;
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

struct festival {
    pid_t pid;
    FILE *in;   // commands
    FILE *err;  // festival's stderr: unbuffered, so our markers arrive at once
    char voice[40]; // voice selected now
};

static int festival_start(struct festival *f)
{
    int in[2], err[2];
    if (pipe(in) || pipe(err))
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    posix_spawn_file_actions_addclose(&fa, in[1]);
    posix_spawn_file_actions_addclose(&fa, err[0]);
    char *argv[] = { "festival", "--pipe", NULL };
    int rc = posix_spawnp(&f->pid, "festival", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(err[1]);
    if (rc) {
        close(in[1]);
        close(err[0]);
        return -1;
    }
    f->in = fdopen(in[1], "w");
    f->err = fdopen(err[0], "r");
    f->voice[0] = 0;
    return 0;
}

static void festival_stop(struct festival *f)
{
    if (!f->pid)
        return;
    fclose(f->in);
    fclose(f->err);
    int status;
    waitpid(f->pid, &status, 0);
    f->pid = 0;
}

static int festival_say(struct festival *f, const struct job *j, const char *wav, char *err, size_t errn)
{
    if (!f->pid && festival_start(f)) {
        snprintf(err, errn, "cannot start festival");
        return -1;
    }
    if (strcmp(f->voice, j->voice)) {
        fprintf(f->in, "(voice_%s)\n", j->voice);
        snprintf(f->voice, sizeof f->voice, "%s", j->voice);
    }
    // Text is [a-z' ] only (normalised), so it needs no escaping inside "...".
    fprintf(f->in,
            "(Parameter.set 'Duration_Stretch %.3f)\n"
            "(utt.save.wave (utt.synth (Utterance Text \"%s\")) \"%s\" 'riff)\n"
            "(format stderr \"SPARQ-DONE %d\\n\")\n",
            j->stretch, j->text, wav, j->idx);
    fflush(f->in);
    char line[512], want[64];
    snprintf(want, sizeof want, "SPARQ-DONE %d\n", j->idx);
    err[0] = 0;
    while (fgets(line, sizeof line, f->err)) {
        if (!strcmp(line, want))
            return 0;
        snprintf(err, errn, "festival: %.200s", line); // keep the last complaint
    }
    if (!err[0])
        snprintf(err, errn, "festival exited unexpectedly");
    festival_stop(f);
    return -1;
}

// Adds Gaussian noise (white, or low-passed "brown" for half the seeds) at
// `snr` dB relative to the power of the active (non-silent) speech.
static int add_noise(const char *path, double snr, uint64_t seed, char *err, size_t errn)
{
    float *x;
    size_t n;
    int rate;
    if (sparq_audio_load_ex(path, 0, &x, &n, &rate)) {
        snprintf(err, errn, "%s", sparq_last_error());
        return -1;
    }
    // Speech power: mean over 10 ms blocks whose energy is within 40 dB of the loudest.
    size_t blk = (size_t)rate / 100, nb = n / blk;
    double peak = 0, sum = 0;
    size_t used = 0;
    for (size_t b = 0; b < nb; b++) {
        double e = 0;
        for (size_t i = 0; i < blk; i++)
            e += (double)x[b * blk + i] * x[b * blk + i];
        peak = fmax(peak, e / blk);
    }
    for (size_t b = 0; b < nb; b++) {
        double e = 0;
        for (size_t i = 0; i < blk; i++)
            e += (double)x[b * blk + i] * x[b * blk + i];
        if (e / blk >= peak * 1e-4) {
            sum += e / blk;
            used++;
        }
    }
    double power = used ? sum / used : 1.0;
    double sigma = sqrt(power / pow(10.0, snr / 10.0));
    uint64_t rng = seed;
    int brown = (int)(seed & 1);
    double state = 0, alpha = 0.95, gain = brown ? sqrt((1 - alpha * alpha)) : 1.0;
    for (size_t i = 0; i < n; i++) {
        double w = sparq_rng_normal(&rng);
        if (brown) {
            state = alpha * state + gain * w; // one-pole low-pass, unit variance
            w = state;
        }
        x[i] += (float)(sigma * w);
    }
    int rc = sparq_audio_write_wav16(path, x, n, rate);
    if (rc)
        snprintf(err, errn, "%s", sparq_last_error());
    free(x);
    return rc ? -1 : 0;
}

static void do_job(const struct job *j, const char *tmpdir, struct festival *fest, struct result *r)
{
    memset(r, 0, sizeof *r);
    r->idx = j->idx;
    char raw[1200];
    snprintf(raw, sizeof raw, "%s/raw.wav", tmpdir);
    unlink(raw);
    int rc;
    char rate[16], pitch[16], stretch[48];
    snprintf(rate, sizeof rate, "%d", j->rate);
    snprintf(pitch, sizeof pitch, "%d", j->pitch);
    if (j->engine == ESPEAK) {
        char *argv[] = { "espeak-ng", "-v", (char *)j->voice, "-s", rate, "-p", pitch, "-w", raw, (char *)j->text, NULL };
        rc = run(argv);
        if (rc)
            snprintf(r->err, sizeof r->err, "espeak-ng -v %s failed", j->voice);
    } else if (j->engine == FLITE) {
        snprintf(stretch, sizeof stretch, "duration_stretch=%.3f", j->stretch);
        char *argv[] = { "flite", "-voice", (char *)j->voice, "--setf", stretch, "-t", (char *)j->text, "-o", raw, NULL };
        rc = run(argv);
        if (rc)
            snprintf(r->err, sizeof r->err, "flite -voice %s failed", j->voice);
    } else {
        rc = festival_say(fest, j, raw, r->err, sizeof r->err);
    }
    if (rc)
        return;
    // sox: 16-bit mono; speed change (if any) at the source rate, then
    // 16 kHz, then the other effects (a band-limit above the Nyquist
    // frequency of flite's 8 kHz kal voice would fail before resampling),
    // then a random peak level of -1..-10 dBFS, or the gain effect's level
    // (quiet, or above full scale: clipped). The phone channel writes 8 kHz
    // mu-law (G.711) and a second sox brings it back to 16 kHz 16-bit.
    char gain[16], p[NAUG][32], tel[1200];
    const float *ap = j->aug_param;
    snprintf(gain, sizeof gain, "%d", -1 - (int)(j->seed % 10));
    if (j->aug & (1u << AUG_GAIN))
        snprintf(gain, sizeof gain, "%+.1f", ap[AUG_GAIN]);
    snprintf(tel, sizeof tel, "%s/phone.wav", tmpdir);
    int phone = (j->aug >> AUG_PHONE) & 1;
    char *argv[40] = { "sox", "-R", "-q", raw, "-c", "1" };
    int a = 6;
    if (phone) {
        argv[a++] = "-e", argv[a++] = "u-law", argv[a++] = "-b", argv[a++] = "8", argv[a++] = "-r";
        argv[a++] = "8000", argv[a++] = tel;
    } else
        argv[a++] = "-b", argv[a++] = "16", argv[a++] = (char *)j->out;
    if (j->aug & (1u << AUG_SPEED)) {
        snprintf(p[AUG_SPEED], sizeof p[0], "%.3f", ap[AUG_SPEED]);
        argv[a++] = "speed", argv[a++] = p[AUG_SPEED];
    }
    argv[a++] = "rate", argv[a++] = "16000";
    if (j->aug & (1u << AUG_PITCH)) {
        snprintf(p[AUG_PITCH], sizeof p[0], "%.0f", ap[AUG_PITCH]);
        argv[a++] = "pitch", argv[a++] = p[AUG_PITCH];
    }
    if (j->aug & (1u << AUG_REVERB)) {
        snprintf(p[AUG_REVERB], sizeof p[0], "%.0f", ap[AUG_REVERB]);
        argv[a++] = "reverb", argv[a++] = p[AUG_REVERB];
    }
    if (phone)
        argv[a++] = "sinc", argv[a++] = "300-3400";
    else if (j->aug & (1u << AUG_LOWPASS)) {
        snprintf(p[AUG_LOWPASS], sizeof p[0], "-%.0f", ap[AUG_LOWPASS]);
        argv[a++] = "sinc", argv[a++] = p[AUG_LOWPASS];
    }
    argv[a++] = "gain", argv[a++] = "-n", argv[a++] = gain;
    argv[a] = NULL;
    int failed = run(argv);
    if (!failed && phone) {
        char *back[] = { "sox", "-R", "-q", tel, "-b", "16", "-c", "1", (char *)j->out, "rate", "16000", NULL };
        failed = run(back);
        unlink(tel);
    }
    if (failed) {
        snprintf(r->err, sizeof r->err, "sox failed on %s output (augment mask 0x%x)", j->voice, j->aug);
        return;
    }
    if ((j->aug & (1u << AUG_NOISE)) && add_noise(j->out, ap[AUG_NOISE], j->seed, r->err, sizeof r->err))
        return;
    struct sparq_audio_info info;
    if (sparq_audio_probe(j->out, &info)) {
        snprintf(r->err, sizeof r->err, "%s", sparq_last_error());
        return;
    }
    r->seconds = info.seconds;
    r->ok = 1;
}

int corpus_read_full(int fd, void *buf, size_t n)
{
    char *p = buf;
    while (n) {
        ssize_t got = read(fd, p, n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return -1;
        p += got;
        n -= (size_t)got;
    }
    return 0;
}

int corpus_write_full(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void worker_main(int jobs_fd, int results_fd, const char *tmpdir)
{
    struct festival fest = { 0 };
    struct job j;
    while (corpus_read_full(jobs_fd, &j, sizeof j) == 0) {
        struct result r;
        do_job(&j, tmpdir, &fest, &r);
        if (corpus_write_full(results_fd, &r, sizeof r))
            break;
    }
    festival_stop(&fest);
}

int corpus_workers_start(const char *out_dir, int n, struct worker *w, int *started)
{
    char tmpdir[1100];
    int nw = 0, rc = SPARQ_OK;
    signal(SIGPIPE, SIG_IGN);
    fflush(NULL);
    for (; nw < n && nw < 16; nw++) {
        int jp[2], rp[2];
        snprintf(tmpdir, sizeof tmpdir, "%s/tmp/w%d", out_dir, nw);
        if ((rc = sparq_mkdir_p(tmpdir)))
            break;
        if (pipe(jp) || pipe(rp)) {
            rc = sparq_fail(SPARQ_EIO, "pipe: %s", strerror(errno));
            break;
        }
        pid_t pid = fork();
        if (pid < 0) {
            rc = sparq_fail(SPARQ_EIO, "fork: %s", strerror(errno));
            break;
        }
        if (pid == 0) {
            close(jp[1]);
            close(rp[0]);
            for (int k = 0; k < nw; k++) {
                close(w[k].jobs_fd);
                close(w[k].results_fd);
            }
            worker_main(jp[0], rp[1], tmpdir);
            _exit(0);
        }
        close(jp[0]);
        close(rp[1]);
        w[nw] = (struct worker){ pid, jp[1], rp[0], 0 };
    }
    *started = nw;
    return rc;
}

void corpus_workers_stop(const char *out_dir, struct worker *w, int n)
{
    char tmpdir[1100];
    for (int k = 0; k < n; k++) {
        close(w[k].jobs_fd);
        close(w[k].results_fd);
    }
    for (int k = 0; k < n; k++) {
        int status;
        waitpid(w[k].pid, &status, 0);
        snprintf(tmpdir, sizeof tmpdir, "%s/tmp/w%d/raw.wav", out_dir, k);
        unlink(tmpdir);
        snprintf(tmpdir, sizeof tmpdir, "%s/tmp/w%d", out_dir, k);
        rmdir(tmpdir);
    }
    snprintf(tmpdir, sizeof tmpdir, "%s/tmp", out_dir);
    rmdir(tmpdir);
}
