// The pipelined decode (sparq_runtime_decode, issue 16): overlapped (two
// threads, two OpenMP threads each) and serial give the same per-batch
// logits, the same hypotheses as sparq_decode_dataset with the runtime active
// and the same device counters, on cpu, ref and sim, with the front-end on
// the host and on the device; per batch the device stage's counters add up to
// the run's; the report's stage sums equal their parts and the overlapped
// time lies between the longer stage's sum and the serial time.
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "sparq_error.h"
#include "sparq_export.h"
#include "sparq_fbank.h"
#include "sparq_report.h"
#include "sparq_rng.h"
#include "sparq_runtime.h"
#include "sparq_train.h"
#include "tiny_model.h"

enum { N_UTT = 9, MAX_FRAMES = 260, MAX_BATCHES = N_UTT };

// Per-batch logits of one decode, by batch index.
struct seen {
    float *z[MAX_BATCHES];
    size_t n[MAX_BATCHES];
    size_t first_utt[MAX_BATCHES];
};

static void on_batch(void *ctx, size_t batch, const size_t *utts, size_t B, const float *logits, int T2, int V)
{
    struct seen *s = ctx;
    if (batch >= MAX_BATCHES || s->z[batch])
        return;
    s->n[batch] = B * (size_t)T2 * (size_t)V;
    s->z[batch] = malloc(sizeof(float) * s->n[batch]);
    memcpy(s->z[batch], logits, sizeof(float) * s->n[batch]);
    s->first_utt[batch] = utts[0];
}

static void seen_free(struct seen *s)
{
    for (int i = 0; i < MAX_BATCHES; i++)
        free(s->z[i]);
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
    struct sparq_compress_spec spec;
    sparq_compress_spec_parse(&spec, "int4-2:4,sub1_w=int8");
    char path[] = "/tmp/sparq_pipeline_XXXXXX";
    close(mkstemp(path));
    int rc = sparq_export(&m, &spec, NULL, SPARQ_SCALE_MSE, path, NULL);
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
            struct sparq_runtime *rt[3] = { NULL, NULL, NULL };
            char *h[3][N_UTT];
            memset(h, 0, sizeof h);
            struct seen s[2];
            memset(s, 0, sizeof s);
            int ok = 1;
            for (int r = 0; r < 3; r++)
                ok &= sparq_runtime_open_ex(&rt[r], path, backends[bi], &ro) == SPARQ_OK;
            if (!ok) {
                CHECK(0, "%s: opens: %s", what, sparq_last_error());
                continue;
            }
            // The plain decode, then the pipeline serial and overlapped.
            sparq_runtime_activate(rt[0]);
            int r0 = sparq_decode_dataset(sparq_runtime_model(rt[0]), &ds, MAX_FRAMES, 1, h[0]);
            sparq_runtime_deactivate(rt[0]);
            struct sparq_pipeline_options po[2] = { { 1, on_batch, &s[0] }, { 2, on_batch, &s[1] } };
            int r1 = sparq_runtime_decode(rt[1], &ds, MAX_FRAMES, NULL, &po[0], h[1]);
            int r2 = sparq_runtime_decode(rt[2], &ds, MAX_FRAMES, NULL, &po[1], h[2]);
            CHECK(!r0 && !r1 && !r2, "%s: plain, serial and overlapped decodes run (%s)", what,
                  r0 || r1 || r2 ? sparq_last_error() : "ok");
            int same = 1, nb = 0;
            for (int b = 0; b < MAX_BATCHES; b++) {
                nb += s[0].z[b] != NULL;
                same &= (!s[0].z[b] && !s[1].z[b]) ||
                        (s[0].z[b] && s[1].z[b] && s[0].n[b] == s[1].n[b] && s[0].first_utt[b] == s[1].first_utt[b] &&
                         !memcmp(s[0].z[b], s[1].z[b], sizeof(float) * s[0].n[b]));
            }
            CHECK(same && nb > 2, "%s: overlapped == serial logits, batch by batch, bit for bit (%d batches)", what,
                  nb);
            if (bi == 0 && pi == 0)
                for (int u = 0; u < N_UTT; u++)
                    printf("# %s: '%s'\n", ds.ids[u], h[0][u] ? h[0][u] : "(none)");
            CHECK(same_hyps(h[0], h[1]) && same_hyps(h[0], h[2]),
                  "%s: serial and overlapped hypotheses == sparq_decode_dataset's, utterance by utterance", what);
            CHECK(same_counters(rt[0], rt[1]) && same_counters(rt[0], rt[2]),
                  "%s: the same device counters, wire bytes by kind and model-device counters in all three", what);
            size_t batches = 0;
            check_times(rt[2], what, &batches);
            CHECK(stages_add_up(rt[1], batches) && stages_add_up(rt[2], batches),
                  "%s: per batch the device stage's counters add up to the run's, matmul by matmul", what);
            for (int r = 0; r < 3; r++) {
                free_hyps(h[r]);
                sparq_runtime_close(rt[r]);
            }
            seen_free(&s[0]);
            seen_free(&s[1]);
        }
    }
    struct sparq_runtime *rt = NULL;
    struct sparq_pipeline_options bad = { 3, NULL, NULL };
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
