// Train == serve for the int8 read-out, whole model: a tiny model fine-tuned
// with --readout q8 and exported gives the same logits, bit for bit, in the
// fine-tuning forward (fake quantization + simulated requantization) and in
// the integer runtime (cpu and ref backends), whose default read-out is q8
// for a model that carries calibrated clip levels; a model without them
// (every older .spq) still loads with the int32 read-out by default.
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "sparq_ctc.h"
#include "sparq_error.h"
#include "sparq_finetune.h"
#include "sparq_rng.h"
#include "sparq_runtime.h"
#include "sparq_train.h"
#include "finetune_steps.h"
#include "tiny_model.h"

static uint64_t rng;
static float rndf(void) { return (float)(2.0 * sparq_rng_uniform(&rng) - 1.0); }

enum { B = 2, T = 48, L = 4 };
static float feats[B * T * 20];
static int lens[B] = { T, T - 8 }, labels[B * L], label_lens[B] = { L, L };

static void train_steps(struct sparq_model *m, struct sparq_adamw *opt, struct sparq_compressor *c, int steps,
                        int64_t *step)
{
    const struct ft_batch fb = { feats, lens, labels, label_lens, B, T };
    ft_train_steps(m, opt, c, &fb, steps, step);
}

static float *logits(struct sparq_model *m, int *n)
{
    struct sparq_acts *a = sparq_acts_create(&m->cfg, B, T);
    int T2 = sparq_forward(m, a, feats, lens, B, T, 0);
    *n = B * T2 * m->cfg.vocab;
    float *out = malloc(sizeof(float) * (size_t)*n);
    memcpy(out, sparq_acts_logits(a), sizeof(float) * (size_t)*n);
    sparq_acts_free(a);
    return out;
}

static float *runtime_logits(const char *path, const char *backend, enum sparq_readout *ro, int *n)
{
    struct sparq_runtime *rt = NULL;
    int rc = sparq_runtime_open(&rt, path, backend);
    if (rc) {
        CHECK(0, "runtime %s opens: %s", backend, sparq_last_error());
        return NULL;
    }
    *ro = sparq_runtime_readout(rt);
    sparq_runtime_activate(rt);
    float *z = logits(sparq_runtime_model(rt), n);
    sparq_runtime_deactivate(rt);
    if (sparq_runtime_error(rt))
        CHECK(0, "runtime %s runs: %s", backend, sparq_last_error());
    sparq_runtime_close(rt);
    return z;
}

int main(void)
{
    rng = check_seed(1618);
    struct sparq_config cfg;
    tiny_model_config(&cfg);
    struct sparq_model m;
    struct sparq_adamw opt;
    sparq_model_create(&m, &cfg);
    sparq_model_init(&m, 13);
    sparq_adamw_init(&opt, &m, 0.9f, 0.98f, 1e-9f, 0.0f);
    for (int i = 0; i < B * T * cfg.n_mels; i++)
        feats[i] = rndf();
    for (int j = 0; j < B * L; j++)
        labels[j] = 3 + (j * 5) % 26;
    int64_t step = 0;
    train_steps(&m, &opt, NULL, 20, &step);

    struct sparq_finetune_options o;
    sparq_finetune_default_options(&o);
    sparq_compress_spec_parse(&o.spec, "int4-2:4,sub1_w=int8");
    o.readout_q8 = o.act_quant = 1;
    o.freeze_scales_at = 4;
    struct sparq_compressor *c;
    int rc = sparq_compressor_create(&c, &m, &o);
    int64_t ft = 0;
    train_steps(&m, &opt, c, 6, &ft);
    struct sparq_export_overrides ov;
    sparq_compressor_overrides(c, &ov);
    char path[] = "/tmp/sparq_rqrt_XXXXXX";
    close(mkstemp(path));
    rc = rc ? rc : sparq_export(&m, &o.spec, &ov, SPARQ_SCALE_MSE, path, NULL);
    CHECK(rc == 0, "fine-tuned with the simulated read-out and exported (%s)", rc ? sparq_last_error() : "ok");

    // The fine-tuning forward: fake-quantized weights, the read-out hook.
    int n = 0, nc = 0, nr = 0;
    sparq_compressor_pre_forward(c, &m, ft);
    float *want = logits(&m, &n);
    sparq_compressor_restore(c, &m);
    enum sparq_readout ro_cpu = SPARQ_READOUT_I32, ro_ref = SPARQ_READOUT_I32, ro;
    float *cpu = runtime_logits(path, "cpu", &ro_cpu, &nc);
    float *ref = runtime_logits(path, "ref", &ro_ref, &nr);
    CHECK(ro_cpu == SPARQ_READOUT_Q8 && ro_ref == SPARQ_READOUT_Q8,
          "a model with calibrated clip levels runs the q8 read-out by default");
    double worst = 0;
    for (int i = 0; cpu && i < n && nc == n; i++)
        worst = fmax(worst, fabs((double)cpu[i] - want[i]));
    CHECK(cpu && nc == n && memcmp(cpu, want, sizeof(float) * (size_t)n) == 0,
          "integer runtime (cpu, q8) logits == fine-tuning forward logits, bit for bit (worst difference %.3g)",
          worst);
    CHECK(ref && nr == n && memcmp(ref, want, sizeof(float) * (size_t)n) == 0,
          "integer runtime (ref device, q8) logits == fine-tuning forward logits, bit for bit");
    free(cpu);
    cpu = runtime_logits(path, "cpu:i32", &ro, &nc);
    CHECK(cpu && ro == SPARQ_READOUT_I32, "cpu:i32 still selects the int32 read-out");
    free(cpu);

    // A model without read-out sections (as every .spq before them).
    rc = sparq_export(&m, &o.spec, NULL, SPARQ_SCALE_MSE, path, NULL);
    cpu = rc ? NULL : runtime_logits(path, "cpu", &ro, &nc);
    CHECK(cpu && ro == SPARQ_READOUT_I32, "a model without clip levels loads, int32 read-out by default");
    free(cpu);
    free(ref);
    free(want);
    unlink(path);
    sparq_compressor_free(c);
    sparq_adamw_free(&opt);
    sparq_model_free(&m);
    return check_done();
}
