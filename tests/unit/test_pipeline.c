// The pipelined decode (sparq_runtime_decode, issue 16): overlapped (two
// threads, two OpenMP threads each) and serial give the same per-batch
// logits, the same hypotheses as sparq_decode_dataset with the runtime active
// and the same device counters, on cpu, ref and sim, with the front-end on
// the host and on the device; per batch the device stage's counters add up to
// the run's; the report's stage sums equal their parts and the overlapped
// time lies between the longer stage's sum and the serial time. Its own
// batching (at least SPARQ_PIPELINE_BATCHES batches) and its skipping of
// padded rows leave every utterance's logits bit for bit those of the padded
// decode in sparq_decode_dataset's batches (which, run with `padded` and
// min_batches 1, also counts what sparq_decode_dataset counts) and of one
// utterance per batch; the valid-row plan of its batches equals what it
// measured.
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "sparq_audio.h"
#include "sparq_device.h"
#include "sparq_error.h"
#include "sparq_fbank.h"
#include "sparq_longform.h"
#include "sparq_report.h"
#include "sparq_rng.h"
#include "sparq_runtime.h"
#include "sparq_train.h"
#include "tiny_export.h"
#include "tiny_model.h"

enum { N_UTT = 9, MAX_FRAMES = 260, MAX_BATCHES = N_UTT };

// Per-batch logits of one decode, by batch index, and each utterance's
// valid frames' logits (its subsampled frames; past them a batch is padding).
struct seen {
    const struct sparq_dataset *ds;
    float *z[MAX_BATCHES];
    size_t n[MAX_BATCHES];
    size_t first_utt[MAX_BATCHES];
    size_t nb_utts[MAX_BATCHES], utts[MAX_BATCHES][N_UTT]; // the batch's utterances
    float *u[N_UTT];
    int V;
    int pad_nonzero; // padded frames with a logit other than 0
};

static void on_batch(void *ctx, size_t batch, const size_t *utts, size_t B, const float *logits, int T2, int V)
{
    struct seen *s = ctx;
    if (batch >= MAX_BATCHES || s->z[batch] || B > N_UTT)
        return;
    s->n[batch] = B * (size_t)T2 * (size_t)V;
    s->z[batch] = malloc(sizeof(float) * s->n[batch]);
    memcpy(s->z[batch], logits, sizeof(float) * s->n[batch]);
    s->first_utt[batch] = utts[0];
    s->nb_utts[batch] = B;
    memcpy(s->utts[batch], utts, sizeof(size_t) * B);
    s->V = V;
    for (size_t k = 0; k < B; k++) {
        size_t n = (size_t)sparq_sub_frames(s->ds->frames[utts[k]]) * V;
        if (utts[k] < N_UTT && !s->u[utts[k]] && (s->u[utts[k]] = malloc(sizeof(float) * n)))
            memcpy(s->u[utts[k]], logits + k * (size_t)T2 * V, sizeof(float) * n);
        for (size_t i = n; i < (size_t)T2 * V; i++)
            s->pad_nonzero += logits[k * (size_t)T2 * V + i] != 0.0f;
    }
}

static void seen_free(struct seen *s)
{
    for (int i = 0; i < MAX_BATCHES; i++)
        free(s->z[i]);
    for (int i = 0; i < N_UTT; i++)
        free(s->u[i]);
}

// Every utterance's valid-frame logits equal in both decodes, bit for bit.
static int same_utts(const struct seen *a, const struct seen *b)
{
    int ok = a->V > 0 && a->V == b->V;
    for (size_t i = 0; ok && i < N_UTT; i++)
        ok = a->u[i] && b->u[i] &&
             !memcmp(a->u[i], b->u[i], sizeof(float) * (size_t)sparq_sub_frames(a->ds->frames[i]) * a->V);
    return ok;
}

// Every batch within `cap` padded frames, or one utterance.
static int fits(const struct seen *s, int cap)
{
    for (size_t b = 0; b < MAX_BATCHES && s->z[b]; b++) {
        int longest = 0;
        for (size_t k = 0; k < s->nb_utts[b]; k++)
            longest = s->ds->frames[s->utts[b][k]] > longest ? s->ds->frames[s->utts[b][k]] : longest;
        if (s->nb_utts[b] > 1 && (long)s->nb_utts[b] * longest > cap)
            return 0;
    }
    return 1;
}

static size_t batches_of(const struct seen *s)
{
    size_t n = 0;
    while (n < MAX_BATCHES && s->z[n])
        n++;
    return n;
}

// Noise-and-tone utterances of random lengths, in memory.
static void make_dataset(struct sparq_dataset *ds, uint64_t *rng)
{
    struct sparq_fbank_options fo;
    sparq_fbank_default_options(&fo);
    memset(ds, 0, sizeof *ds);
    ds->n = N_UTT;
    ds->ids = calloc(N_UTT, sizeof(char *));
    ds->texts = calloc(N_UTT, sizeof(char *));
    ds->labels = calloc(N_UTT, sizeof *ds->labels); // none: sparq_dataset_free frees what it finds
    ds->n_labels = calloc(N_UTT, sizeof *ds->n_labels);
    ds->samples = calloc(N_UTT, sizeof(float *));
    ds->n_samples = calloc(N_UTT, sizeof(size_t));
    ds->frames = calloc(N_UTT, sizeof(int));
    for (size_t i = 0; i < N_UTT; i++) {
        size_t n = 16000 * 3 / 10 + (size_t)(sparq_rng_uniform(rng) * 9000);
        ds->samples[i] = malloc(sizeof(float) * n);
        // A tone that steps every 0.1 s, over noise of its own level.
        double f = 0, ph = 0, amp = 0, noise = 300 + 3000 * sparq_rng_uniform(rng);
        for (size_t k = 0; k < n; k++) {
            if (k % 1600 == 0) {
                f = 150 + 3000 * sparq_rng_uniform(rng);
                amp = 8000 * sparq_rng_uniform(rng);
            }
            ph += 6.2831853 * f / 16000;
            ds->samples[i][k] = (float)(amp * sin(ph) + noise * (2 * sparq_rng_uniform(rng) - 1));
        }
        ds->n_samples[i] = n;
        ds->frames[i] = sparq_fbank_num_frames(n, &fo);
        ds->seconds += (double)n / 16000;
        char id[16];
        snprintf(id, sizeof id, "u%zu", i);
        ds->ids[i] = strdup(id);
        ds->texts[i] = strdup("");
    }
}

// Global CMVN of the dataset's features, so the model's output follows its
// input (greedy hypotheses then differ from utterance to utterance and a
// reordered output shows in them).
static void set_cmvn(struct sparq_model *m, const struct sparq_dataset *ds)
{
    struct sparq_fbank_options fo;
    sparq_fbank_default_options(&fo);
    const int D = m->cfg.n_mels;
    double *s1 = calloc((size_t)D, sizeof(double)), *s2 = calloc((size_t)D, sizeof(double));
    double n = 0;
    for (size_t i = 0; i < ds->n; i++) {
        float *f = NULL;
        int frames = 0;
        if (sparq_fbank_compute(ds->samples[i], ds->n_samples[i], &fo, &f, &frames) == SPARQ_OK)
            for (int t = 0; t < frames; t++, n++)
                for (int k = 0; k < D; k++) {
                    s1[k] += f[(size_t)t * D + k];
                    s2[k] += (double)f[(size_t)t * D + k] * f[(size_t)t * D + k];
                }
        free(f);
    }
    for (int k = 0; k < D && n > 0; k++) {
        double mu = s1[k] / n, var = s2[k] / n - mu * mu;
        m->buf.cmvn_mean[k] = (float)mu;
        m->buf.cmvn_istd[k] = (float)(1.0 / sqrt(var > 1e-6 ? var : 1e-6));
    }
    free(s1);
    free(s2);
}


static void free_hyps(char **h)
{
    for (size_t i = 0; i < N_UTT; i++)
        free(h[i]);
}

// Equal, utterance by utterance, and not all empty (the test would prove nothing).
static int same_hyps(char **a, char **b)
{
    size_t chars = 0;
    for (size_t i = 0; i < N_UTT; i++) {
        if (!a[i] || !b[i] || strcmp(a[i], b[i]))
            return 0;
        chars += strlen(a[i]);
    }
    return chars > 0;
}

// The counters the device (and the model device) saw, matmul by matmul.
static int same_counters(const struct sparq_runtime *a, const struct sparq_runtime *b)
{
    int na, nb;
    const struct sparq_runtime_layer_stats *x = sparq_runtime_stats(a, &na), *y = sparq_runtime_stats(b, &nb);
    int ok = na == nb;
    for (int i = 0; ok && i < na; i++) {
        ok &= x[i].calls == y[i].calls && x[i].rows == y[i].rows && x[i].busy_cycles == y[i].busy_cycles &&
              x[i].device_macs == y[i].device_macs && x[i].wire_bytes == y[i].wire_bytes &&
              x[i].model_busy == y[i].model_busy && x[i].model_bytes == y[i].model_bytes &&
              x[i].wire_to_dev == y[i].wire_to_dev && x[i].bytes_out == y[i].bytes_out;
        ok &= !memcmp(x[i].wire_kind, y[i].wire_kind, sizeof x[i].wire_kind) &&
              !memcmp(x[i].model_kind, y[i].model_kind, sizeof x[i].model_kind);
    }
    return ok;
}

// Per batch, the device stage's counters add up to the run's, matmul by matmul.
static int stages_add_up(const struct sparq_runtime *rt, size_t batches)
{
    int n;
    const struct sparq_runtime_layer_stats *st = sparq_runtime_stats(rt, &n);
    struct sparq_runtime_layer_stats *sum = calloc((size_t)n, sizeof *sum), *d = calloc((size_t)n, sizeof *d);
    int ok = sum && d;
    for (size_t b = 0; ok && b < batches; b++) {
        ok &= sparq_runtime_stage_counters(rt, b, d) == SPARQ_OK;
        for (int i = 0; ok && i < n; i++) {
            sum[i].calls += d[i].calls;
            sum[i].busy_cycles += d[i].busy_cycles;
            sum[i].model_busy += d[i].model_busy;
            sum[i].wire_to_dev += d[i].wire_to_dev;
            sum[i].model_from_dev += d[i].model_from_dev;
        }
    }
    ok &= sparq_runtime_stage_counters(rt, batches, d) != SPARQ_OK;
    for (int i = 0; ok && i < n; i++)
        ok &= st[i].host ? sum[i].calls == 0
                         : sum[i].calls == st[i].calls && sum[i].busy_cycles == st[i].busy_cycles &&
                               sum[i].model_busy == st[i].model_busy && sum[i].wire_to_dev == st[i].wire_to_dev &&
                               sum[i].model_from_dev == st[i].model_from_dev;
    free(sum);
    free(d);
    return ok;
}

static int is_conv(const char *name)
{
    return !strcmp(name, "sub1_w") || !strcmp(name, "sub2_w");
}

// Every matmul from sub_lin_w on ran on the utterances' own rows only (the
// padded decode on more), with fewer wire bytes in total.
static int valid_rows(const struct sparq_runtime *pipe, const struct sparq_runtime *padded,
                      const struct sparq_dataset *ds)
{
    uint64_t want = 0, busy[2] = { 0, 0 }, bytes[2] = { 0, 0 };
    for (size_t i = 0; i < ds->n; i++)
        want += (uint64_t)sparq_sub_frames(ds->frames[i]);
    int n, m;
    const struct sparq_runtime_layer_stats *x = sparq_runtime_stats(pipe, &n), *y = sparq_runtime_stats(padded, &m);
    int ok = n == m, frame_layers = 0;
    for (int i = 0; ok && i < n; i++) {
        busy[0] += x[i].model_busy, busy[1] += y[i].model_busy;
        bytes[0] += x[i].model_bytes, bytes[1] += y[i].model_bytes;
        if (is_conv(x[i].name) || !strcmp(x[i].format, "float"))
            continue;
        if (!(x[i].rows == want && y[i].rows > want))
            printf("# %s: rows %llu (padded decode %llu), the utterances' %llu\n", x[i].name,
                   (unsigned long long)x[i].rows, (unsigned long long)y[i].rows, (unsigned long long)want);
        ok &= x[i].rows == want && y[i].rows > want;
        frame_layers++;
    }
    printf("# valid rows: busy cycles %llu (padded %llu), wire bytes %llu (padded %llu)\n", (unsigned long long)busy[0],
           (unsigned long long)busy[1], (unsigned long long)bytes[0], (unsigned long long)bytes[1]);
    // (the array takes 16 rows a step: a few padded rows may cost no cycle)
    return ok && frame_layers > 0 && busy[0] <= busy[1] && bytes[0] < bytes[1];
}

// The valid-row plan of the decode's batches (as its on_batch saw them),
// summed, equals its counters matmul by matmul: calls, rows, busy cycles,
// wire bytes by kind.
static int plan_matches(struct sparq_runtime *rt, const struct seen *s)
{
    int n;
    const struct sparq_runtime_layer_stats *st = sparq_runtime_stats(rt, &n);
    struct sparq_runtime_layer_stats *sum = calloc((size_t)n, sizeof *sum), *p = calloc((size_t)n, sizeof *p);
    int ok = sum && p && batches_of(s) > 0, dev = sparq_runtime_device_info(rt, &(struct sparq_device_info){ 0 }) == 0;
    for (size_t b = 0; ok && b < batches_of(s); b++) {
        int frames[N_UTT];
        for (size_t k = 0; k < s->nb_utts[b]; k++)
            frames[k] = s->ds->frames[s->utts[b][k]];
        ok &= sparq_runtime_plan_rows(rt, NULL, frames, s->nb_utts[b], (int)s->nb_utts[b], SPARQ_PLAN_VALID, p) == 0;
        for (int i = 0; ok && i < n; i++) {
            sum[i].calls += p[i].calls, sum[i].rows += p[i].rows, sum[i].model_busy += p[i].model_busy;
            for (int k = 0; k < SPARQ_WIRE_KINDS; k++)
                sum[i].model_kind[k] += p[i].model_kind[k];
        }
    }
    for (int i = 0; ok && i < n; i++) {
        ok &= sum[i].calls == st[i].calls && sum[i].rows == st[i].rows && sum[i].model_busy == st[i].model_busy &&
              !memcmp(sum[i].model_kind, st[i].model_kind, sizeof sum[i].model_kind);
        if (dev)
            ok &= st[i].busy_cycles == st[i].model_busy &&
                  !memcmp(st[i].wire_kind, st[i].model_kind, sizeof st[i].wire_kind);
    }
    free(sum);
    free(p);
    return ok;
}

// Two "ranks" (ranks = 2, rank 0 and 1) decode disjoint shares of the same
// batches: together every hypothesis of the whole decode and its counters.
static void check_ranks(const char *path, const struct sparq_runtime_options *ro, const struct sparq_dataset *ds,
                        const struct sparq_runtime *whole, char **hw, const char *what)
{
    struct sparq_runtime *r[2] = { NULL, NULL };
    char *h[2][N_UTT];
    memset(h, 0, sizeof h);
    int ok = 1, n = 0, m = 0;
    for (int k = 0; k < 2; k++) {
        struct sparq_pipeline_options po = { .threads = 2, .rank = k, .ranks = 2 };
        ok &= sparq_runtime_open_ex(&r[k], path, "ref", ro) == 0 &&
              sparq_runtime_decode(r[k], ds, MAX_FRAMES, NULL, &po, h[k]) == 0;
    }
    int parts = ok;
    for (size_t i = 0; ok && i < N_UTT; i++)
        parts &= (h[0][i] != NULL) != (h[1][i] != NULL) && !strcmp(h[0][i] ? h[0][i] : h[1][i], hw[i]);
    const struct sparq_runtime_layer_stats *a = ok ? sparq_runtime_stats(r[0], &n) : NULL, *b = NULL, *w = NULL;
    b = ok ? sparq_runtime_stats(r[1], &m) : NULL;
    w = ok ? sparq_runtime_stats(whole, &m) : NULL;
    for (int i = 0; parts && n == m && i < m; i++)
        parts &= a[i].calls + b[i].calls == w[i].calls && a[i].rows + b[i].rows == w[i].rows &&
                 a[i].busy_cycles + b[i].busy_cycles == w[i].busy_cycles &&
                 a[i].wire_bytes + b[i].wire_bytes == w[i].wire_bytes;
    struct sparq_report_options o;
    struct sparq_pipeline_times t;
    sparq_report_default_options(&o);
    parts &= ok && sparq_report_pipeline(r[0], &o, &t) == SPARQ_EINVAL;
    CHECK(parts,
          "%s: ranks 0 and 1 of 2 decode disjoint shares: together the whole decode's hypotheses and "
          "counters (no whole-model record on a rank)",
          what);
    for (int k = 0; k < 2; k++) {
        free_hyps(h[k]);
        sparq_runtime_close(r[k]);
    }
}

struct tr_seen {
    char *text[N_UTT + 3];
    int windows[N_UTT + 3], failed[N_UTT + 3], order_ok, next;
};

static void tr_emit(void *ctx, int file, const char *text, int windows, const char *error)
{
    struct tr_seen *s = ctx;
    s->order_ok &= file == s->next++;
    s->text[file] = text ? strdup(text) : NULL;
    s->windows[file] = windows;
    s->failed[file] = !text && error && strstr(error, "missing.wav");
}

// sparq_runtime_transcribe (the pipelined transcribe) gives every file the
// words and window count of sparq_longform_transcribe, in file order: the
// utterances as WAV files, a file missing in the middle (its error, the
// others go on) and one long file of all of them in 2 s windows.
static void check_transcribe(const char *path, const char *backend, const struct sparq_dataset *ds)
{
    char dir[] = "/tmp/sparq_pipeline_tr_XXXXXX";
    char *paths[N_UTT + 3];
    int ok = mkdtemp(dir) != NULL, nf = 0;
    size_t total = 0;
    for (size_t i = 0; i < ds->n; i++)
        total += ds->n_samples[i];
    float *all = malloc(sizeof(float) * (total + 1));
    for (size_t i = 0, at = 0; ok && all && i < ds->n; at += ds->n_samples[i++]) {
        paths[nf] = malloc(strlen(dir) + 32);
        sprintf(paths[nf], "%s/u%zu.wav", dir, i);
        ok &= sparq_audio_write_wav16(paths[nf++], ds->samples[i], ds->n_samples[i], 16000) == 0;
        memcpy(all + at, ds->samples[i], sizeof(float) * ds->n_samples[i]);
        if (i == 3) {
            paths[nf] = malloc(strlen(dir) + 32);
            sprintf(paths[nf++], "%s/missing.wav", dir);
        }
    }
    paths[nf] = malloc(strlen(dir) + 32);
    sprintf(paths[nf], "%s/all.wav", dir);
    ok &= all && sparq_audio_write_wav16(paths[nf++], all, total, 16000) == 0;
    struct sparq_longform_options o;
    sparq_longform_default_options(&o);
    o.window_s = 2;
    struct sparq_runtime *r[2] = { NULL, NULL };
    ok &= sparq_runtime_open(&r[0], path, backend) == 0 && sparq_runtime_open(&r[1], path, backend) == 0;
    struct tr_seen s;
    memset(&s, 0, sizeof s);
    s.order_ok = 1;
    int rc = ok ? sparq_runtime_transcribe(r[0], (const char *const *)paths, nf, &o, tr_emit, &s) : -1;
    int same = ok && rc == SPARQ_EINVAL && s.order_ok && s.next == nf, words = 0;
    sparq_runtime_activate(r[1]);
    for (int f = 0; same && f < nf; f++) {
        char *want = NULL;
        int w = 0, frc = sparq_longform_transcribe(sparq_runtime_model(r[1]), r[1], paths[f], &o, &want, &w);
        same &= frc ? s.failed[f] && !s.text[f] : s.text[f] && !strcmp(want, s.text[f]) && w == s.windows[f];
        words += want && *want;
        free(want);
    }
    sparq_runtime_deactivate(r[1]);
    CHECK(same && words > 2 && s.windows[nf - 1] > 1,
          "%s: pipelined transcribe == sparq_longform_transcribe, file by file and in order (%d files, one "
          "missing, the last in %d windows)",
          backend, nf, s.windows[nf - 1]);
    for (int f = 0; f < nf; f++) {
        unlink(paths[f]);
        free(paths[f]);
        free(s.text[f]);
    }
    rmdir(dir);
    free(all);
    sparq_runtime_close(r[0]);
    sparq_runtime_close(r[1]);
}

static int close_to(double a, double b)
{
    return fabs(a - b) <= 1e-9 * (fabs(a) + fabs(b)) + 1e-12;
}

// The report's model: sums and bounds.
static void check_times(struct sparq_runtime *rt, const char *what, size_t *batches)
{
    struct sparq_report_options o;
    sparq_report_default_options(&o);
    struct sparq_pipeline_times t;
    int rc = sparq_report_pipeline(rt, &o, &t);
    *batches = rc ? 0 : t.batches;
    int sums = !rc, bounds = !rc;
    for (int k = 0; !rc && k < 2; k++) {
        sums &= close_to(t.serial[k], t.frontend_cpu + t.encoder_cpu + t.device[k] + t.decode_cpu);
        double dev_stage = t.device[k] + t.encoder_cpu, other = t.frontend_cpu + t.decode_cpu;
        bounds &= t.overlapped[k] <= t.serial[k] * (1 + 1e-12) && t.overlapped[k] >= dev_stage * (1 - 1e-12) &&
                  t.overlapped[k] >= other * (1 - 1e-12) && t.device[k] > 0 && t.frontend_cpu > 0;
    }
    CHECK(sums, "%s: serial time = front-end + device stage (host + device) + decode, at both links", what);
    CHECK(bounds && t.batches > 2,
          "%s: %zu batches; max(device stage, front-end + decode) <= overlapped <= serial (FX2: %.4g <= %.4g <= %.4g)",
          what, t.batches, t.device[0] + t.encoder_cpu, t.overlapped[0], t.serial[0]);
}

int main(void)
{
    uint64_t rng = check_seed(1616);
    struct sparq_config c;
    tiny_model_config(&c);
    c.n_mels = 80; // the fbank's default bins
    struct sparq_model m;
    sparq_model_create(&m, &c);
    sparq_model_init(&m, 7);
    // Sharper output logits: greedy hypotheses then differ from utterance to
    // utterance, so a reordered output shows in them.
    struct sparq_dataset ds;
    make_dataset(&ds, &rng);
    set_cmvn(&m, &ds);
    char path[64];
    int rc = tiny_export(&m, "sparq_pipeline", path, sizeof path);
    CHECK(rc == 0, "tiny model exported (%s)", rc ? sparq_last_error() : "ok");
    omp_set_num_threads(2);

    const char *backends[] = { "cpu", "ref", "sim", "ref:i32" };
    const enum sparq_frontend places[] = { SPARQ_FRONTEND_HOST, SPARQ_FRONTEND_DEVICE };
    for (int bi = 0; bi < 4; bi++) {
        for (int pi = 0; pi < 2; pi++) {
            if (bi == 2 && pi == 1)
                continue; // the sim is slow: the host front-end is the overlapped case
            char what[64];
            snprintf(what, sizeof what, "%s, front-end %s", backends[bi], sparq_frontend_name(places[pi]));
            struct sparq_runtime_options ro = { places[pi] };
            // 0 plain (sparq_decode_dataset), 1 serial, 2 overlapped, 3 overlapped with the plain decode's
            // batches and padded rows, 4 the same batches without, 5 one utterance per batch
            enum { RUNS = 6 };
            const int runs = RUNS;
            struct sparq_runtime *rt[RUNS] = { NULL };
            char *h[RUNS][N_UTT];
            memset(h, 0, sizeof h);
            struct seen s[RUNS];
            memset(s, 0, sizeof s);
            int ok = 1;
            for (int r = 0; r < runs; r++) {
                ok &= sparq_runtime_open_ex(&rt[r], path, backends[bi], &ro) == SPARQ_OK;
                s[r].ds = &ds;
            }
            if (!ok) {
                CHECK(0, "%s: opens: %s", what, sparq_last_error());
                continue;
            }
            sparq_runtime_activate(rt[0]);
            int rcs[RUNS] = { sparq_decode_dataset(sparq_runtime_model(rt[0]), &ds, MAX_FRAMES, 1, h[0]) };
            sparq_runtime_deactivate(rt[0]);
            const struct sparq_pipeline_options po[RUNS] = {
                { 0 },
                { .threads = 1, .on_batch = on_batch, .ctx = &s[1] },
                { .threads = 2, .on_batch = on_batch, .ctx = &s[2] },
                { .threads = 2, .on_batch = on_batch, .ctx = &s[3], .min_batches = 1, .padded = 1 },
                { .threads = 2, .on_batch = on_batch, .ctx = &s[4], .min_batches = 1 },
                { .threads = 2, .on_batch = on_batch, .ctx = &s[5] },
            };
            for (int r = 1; r < runs; r++)
                rcs[r] = sparq_runtime_decode(rt[r], &ds, r == 5 ? 100 : MAX_FRAMES, NULL, &po[r], h[r]);
            int all_ran = 1;
            for (int r = 0; r < runs; r++)
                all_ran &= rcs[r] == 0;
            CHECK(all_ran, "%s: plain and %d pipelined decodes run (%s)", what, runs - 1,
                  all_ran ? "ok" : sparq_last_error());
            int same = 1, nb = (int)batches_of(&s[1]);
            for (int b = 0; b < MAX_BATCHES; b++)
                same &= (!s[1].z[b] && !s[2].z[b]) ||
                        (s[1].z[b] && s[2].z[b] && s[1].n[b] == s[2].n[b] && s[1].first_utt[b] == s[2].first_utt[b] &&
                         !memcmp(s[1].z[b], s[2].z[b], sizeof(float) * s[1].n[b]));
            CHECK(same && nb > 2, "%s: overlapped == serial logits, batch by batch, bit for bit (%d batches)", what,
                  nb);
            int nb_plain = (int)batches_of(&s[3]), cap = sparq_runtime_batch_frames(&ds, MAX_FRAMES, 0);
            CHECK(nb > nb_plain && nb == (int)batches_of(&s[2]) && cap < MAX_FRAMES && fits(&s[2], cap),
                  "%s: the pipeline cuts %d batches of at most %d padded frames (sparq_decode_dataset's %d make %d)",
                  what, nb, cap, MAX_FRAMES, nb_plain);
            int same_u = 1;
            for (int r = 1; r < runs; r++)
                same_u &= same_utts(&s[2], &s[r]);
            CHECK(same_u,
                  "%s: every utterance's logits, bit for bit, in the pipeline's batches with padded rows skipped, in "
                  "sparq_decode_dataset's batches with and without them and one utterance per batch",
                  what);
            if (bi == 0 && pi == 0)
                for (int u = 0; u < N_UTT; u++)
                    printf("# %s: '%s'\n", ds.ids[u], h[0][u] ? h[0][u] : "(none)");
            int hyps_ok = 1;
            for (int r = 1; r < runs; r++)
                hyps_ok &= same_hyps(h[0], h[r]);
            CHECK(hyps_ok, "%s: every pipelined decode's hypotheses == sparq_decode_dataset's, utterance by utterance",
                  what);
            CHECK(same_counters(rt[0], rt[3]) && same_counters(rt[1], rt[2]),
                  "%s: the same device counters, wire bytes by kind and model-device counters: padded pipeline == "
                  "sparq_decode_dataset, serial == overlapped",
                  what);
            CHECK(valid_rows(rt[4], rt[0], &ds),
                  "%s: from sub_lin_w on, every matmul ran the utterances' own rows only (fewer wire bytes)", what);
            CHECK(plan_matches(rt[2], &s[2]) && plan_matches(rt[4], &s[4]),
                  "%s: the valid-row plan of the decode's batches == its counters, per matmul and byte kind (the "
                  "pipeline's batches and sparq_decode_dataset's)",
                  what);
            int pad_ok = s[3].pad_nonzero > 0; // padded frames computed: not all 0
            for (int r = 1; r < runs; r++)
                pad_ok &= r == 3 || s[r].pad_nonzero == 0;
            CHECK(pad_ok, "%s: padded frames' logits are 0 when their rows are skipped (%d nonzero with them run)",
                  what, s[3].pad_nonzero);
            if (bi == 1)
                check_ranks(path, &ro, &ds, rt[2], h[2], what);
            size_t batches = 0;
            check_times(rt[2], what, &batches);
            CHECK(stages_add_up(rt[1], batches) && stages_add_up(rt[2], batches),
                  "%s: per batch the device stage's counters add up to the run's, matmul by matmul", what);
            for (int r = 0; r < runs; r++) {
                free_hyps(h[r]);
                sparq_runtime_close(rt[r]);
                seen_free(&s[r]);
            }
        }
    }
    check_transcribe(path, "cpu", &ds);
    check_transcribe(path, "ref", &ds);
    struct sparq_runtime *rt = NULL;
    struct sparq_pipeline_options bad = { .threads = 3 };
    char *h[N_UTT] = { NULL };
    rc = sparq_runtime_open(&rt, path, "cpu");
    rc = rc ? rc : sparq_runtime_decode(rt, &ds, MAX_FRAMES, NULL, &bad, h);
    CHECK(rc == SPARQ_EINVAL && strstr(sparq_last_error(), "3 threads"), "3 pipeline threads are refused: %s",
          sparq_last_error());
    struct sparq_report_options o;
    struct sparq_pipeline_times t;
    sparq_report_default_options(&o);
    CHECK(rt && sparq_report_pipeline(rt, &o, &t) == SPARQ_EINVAL, "no pipeline record before a pipelined decode");
    sparq_runtime_close(rt);
    sparq_dataset_free(&ds);
    unlink(path);
    sparq_model_free(&m);
    return check_done();
}
