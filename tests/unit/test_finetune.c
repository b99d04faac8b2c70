// Compression-aware fine-tuning: a short fine-tune lowers the loss of a
// compressed tiny model; masks keep N of 4 and stay fixed where the schedule
// says; what is trained is bit for bit what is exported; resume state round
// trips.
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "sparq_ctc.h"
#include "sparq_error.h"
#include "sparq_finetune.h"
#include "sparq_runtime.h"
#include "sparq_train.h"
#include "finetune_steps.h"
#include "tiny_model.h"
#include "sparq_rng.h"

static uint64_t rng_state;
static float rndf(void)
{
    return (float)(2.0 * sparq_rng_uniform(&rng_state) - 1.0);
}

enum { B = 2, T = 48, L = 4 };

struct batch {
    float feats[B * T * 20];
    int lens[B], labels[B * L], label_lens[B];
};

// The batch as the shared step loop sees it.
static struct ft_batch as_ft(const struct batch *bt)
{
    return (struct ft_batch){ bt->feats, bt->lens, bt->labels, bt->label_lens, B, T };
}

static double train_steps(struct sparq_model *m, struct sparq_adamw *opt, struct sparq_compressor *c,
                          const struct batch *bt, int steps, int64_t *step)
{
    struct ft_batch fb = as_ft(bt);
    return ft_train_steps(m, opt, c, &fb, steps, step);
}

static double eval_loss(struct sparq_model *m, const struct batch *bt)
{
    struct sparq_acts *a = sparq_acts_create(&m->cfg, B, T);
    int T2 = sparq_forward(m, a, bt->feats, bt->lens, B, T, 0);
    double loss = sparq_ctc_batch(sparq_acts_logits(a), sparq_acts_out_lens(a), B, T2, m->cfg.vocab, bt->labels,
                                  bt->label_lens, NULL, NULL);
    sparq_acts_free(a);
    return loss;
}

// Distillation: zero loss and gradient against itself; the gradient added to
// dlogits is the derivative of the loss added (central differences).
static double distill_loss(struct sparq_teacher *t, const struct batch *bt, const float *logits, const int *ol,
                           int T2, int V, float *grad)
{
    double loss = 0;
    memset(grad, 0, sizeof(float) * B * (size_t)T2 * V);
    int rc = sparq_teacher_distill(t, bt->feats, bt->lens, B, T, logits, ol, T2, V, 0.7f, grad, &loss);
    return rc ? NAN : loss;
}

static void check_distill(struct sparq_model *m, const struct batch *bt)
{
    char path[] = "/tmp/sparq_teacher_XXXXXX";
    close(mkstemp(path));
    struct sparq_teacher *t = NULL;
    int rc = sparq_checkpoint_save(path, m, NULL, NULL);
    rc = rc ? rc : sparq_teacher_open(&t, path, m);
    CHECK(rc == 0, "teacher opens from a saved model (%s)", rc ? sparq_last_error() : "ok");
    if (rc)
        return;
    struct sparq_acts *a = sparq_acts_create(&m->cfg, B, T);
    int T2 = sparq_forward(m, a, bt->feats, bt->lens, B, T, 0), V = m->cfg.vocab;
    size_t n = B * (size_t)T2 * V;
    float *z = malloc(sizeof(float) * n), *g = malloc(sizeof(float) * n), *g2 = malloc(sizeof(float) * n);
    memcpy(z, sparq_acts_logits(a), sizeof(float) * n);
    const int *ol = sparq_acts_out_lens(a);
    double l0 = distill_loss(t, bt, z, ol, T2, V, g);
    float gmax = 0;
    for (size_t i = 0; i < n; i++)
        gmax = fabsf(g[i]) > gmax ? fabsf(g[i]) : gmax;
    CHECK(fabs(l0) < 1e-6 && gmax < 1e-6f, "student == teacher: distillation loss %.2e, max gradient %.2e", l0,
          (double)gmax);
    for (size_t i = 0; i < n; i++)
        z[i] += 0.8f * rndf();
    double l1 = distill_loss(t, bt, z, ol, T2, V, g);
    double worst = 0;
    for (int k = 0; k < 40; k++) {
        int b = k % B, f = (int)((rndf() + 1.0f) * 0.5f * (float)(ol[b] - 1)), v = (k * 7) % V;
        size_t i = ((size_t)b * T2 + f) * V + v;
        const float h = 1e-2f;
        float zi = z[i];
        z[i] = zi + h;
        double lp = distill_loss(t, bt, z, ol, T2, V, g2);
        z[i] = zi - h;
        double lm = distill_loss(t, bt, z, ol, T2, V, g2);
        z[i] = zi;
        double fd = (lp - lm) / (2.0 * h), err = fabs(fd - g[i]) / (fabs(fd) + 1e-4);
        worst = err > worst ? err : worst;
    }
    CHECK(l1 > 0 && worst < 2e-2, "distillation gradient = finite differences of its loss (loss %.4f, worst rel. "
          "error %.2e over 40 logits)", l1, worst);
    free(z);
    free(g);
    free(g2);
    sparq_acts_free(a);
    sparq_teacher_free(t);
    unlink(path);
}

int main(void)
{
    rng_state = check_seed(2024);
    struct sparq_config cfg;
    tiny_model_config(&cfg);
    struct sparq_model m;
    struct sparq_adamw opt;
    sparq_model_create(&m, &cfg);
    sparq_model_init(&m, 11);
    sparq_adamw_init(&opt, &m, 0.9f, 0.98f, 1e-9f, 0.0f);
    static struct batch bt;
    for (int i = 0; i < B * T * cfg.n_mels; i++)
        bt.feats[i] = rndf();
    for (int b = 0; b < B; b++) {
        bt.lens[b] = T - 8 * b;
        bt.label_lens[b] = L;
        for (int j = 0; j < L; j++)
            bt.labels[b * L + j] = 3 + (b * 7 + j * 5) % 26;
    }
    int64_t step = 0;
    train_steps(&m, &opt, NULL, &bt, 60, &step); // a "float base model"
    check_distill(&m, &bt);

    struct sparq_finetune_options o;
    sparq_finetune_default_options(&o);
    sparq_compress_spec_parse(&o.spec, "int4-2:4");
    struct sparq_compressor *c;
    int rc = sparq_compressor_create(&c, &m, &o);
    CHECK(rc == 0 && sparq_compressor_count(c) == 20, "compressor covers the 20 weight matmuls of the tiny model (%d)",
          rc ? -1 : sparq_compressor_count(c));

    // Post-training compression loss, then fine-tuning.
    int64_t ft_step = 0;
    sparq_compressor_pre_forward(c, &m, ft_step);
    double before = eval_loss(&m, &bt);
    sparq_compressor_pre_step(c, &m); // restores the master weights (no gradient: zero_grad below)
    struct sparq_export_overrides ov;
    sparq_compressor_overrides(c, &ov);
    uint8_t *mask0 = malloc(16 * 144);
    int mi = -1;
    for (int i = 0; i < m.n_tensors; i++)
        if (!strcmp(m.tensors[i].name, "layer0.ffn1_w1"))
            mi = i;
    memcpy(mask0, ov.masks[mi], 32 * 16);
    sparq_model_zero_grad(&m);
    train_steps(&m, &opt, c, &bt, 40, &ft_step);
    sparq_compressor_pre_forward(c, &m, ft_step);
    double after = eval_loss(&m, &bt);
    CHECK(after < before * 0.9, "fine-tuning lowers the int4 2:4 loss: %.4f -> %.4f", before, after);

    // Masks: exactly 2 of every 4, unchanged under the one-shot schedule.
    int nm_ok = 1;
    for (int g = 0; g < 32 * 16 / 4; g++)
        nm_ok &= ov.masks[mi][4 * g] + ov.masks[mi][4 * g + 1] + ov.masks[mi][4 * g + 2] + ov.masks[mi][4 * g + 3] == 2;
    CHECK(nm_ok, "masks keep exactly 2 of every 4 weights");
    CHECK(memcmp(mask0, ov.masks[mi], 32 * 16) == 0, "one-shot masks stay fixed through fine-tuning");

    // What is trained is what is exported: the float backend of the exported
    // file equals the model holding the fake-quantized weights, bit for bit.
    char path[] = "/tmp/sparq_ft_XXXXXX";
    close(mkstemp(path));
    float *fq = malloc(sizeof(float) * m.n_params);
    memcpy(fq, m.param_mem, sizeof(float) * m.n_params); // fake-quantized (pre_forward above)
    sparq_compressor_pre_step(c, &m);                   // back to master weights
    rc = sparq_export(&m, &o.spec, &ov, SPARQ_SCALE_MSE, path, NULL);
    struct sparq_runtime *rt = NULL;
    rc = rc ? rc : sparq_runtime_open(&rt, path, "float");
    CHECK(rc == 0 && memcmp(sparq_runtime_model(rt)->param_mem, fq, sizeof(float) * m.n_params) == 0,
          "exported weights == the fake-quantized weights fine-tuning used, bit for bit");
    sparq_runtime_close(rt);

    // Resume state round trip.
    char spath[] = "/tmp/sparq_cs_XXXXXX";
    close(mkstemp(spath));
    struct sparq_compressor *c2;
    sparq_compressor_create(&c2, &m, &o);
    rc = sparq_compressor_save(c, spath);
    rc = rc ? rc : sparq_compressor_load(c2, spath);
    struct sparq_export_overrides ov2;
    sparq_compressor_overrides(c2, &ov2);
    CHECK(rc == 0 && memcmp(ov2.masks[mi], ov.masks[mi], 32 * 16) == 0 &&
              memcmp(ov2.scales[mi], ov.scales[mi], 32 * sizeof(float)) == 0,
          "compressor state (masks, scales) survives save/load");
    unlink(spath);

    // Recompute schedule: masks follow the weights.
    sparq_compressor_free(c2);
    o.schedule = SPARQ_MASK_RECOMPUTE;
    o.mask_every = 1;
    o.mask_grad = SPARQ_MASK_GRAD_SRSTE;
    sparq_compressor_create(&c2, &m, &o);
    sparq_compressor_overrides(c2, &ov2);
    int64_t s2 = 0;
    train_steps(&m, &opt, c2, &bt, 1, &s2);
    memcpy(mask0, ov2.masks[mi], 32 * 16);
    for (size_t i = 0; i < m.n_params; i++) // large perturbation: magnitudes reorder
        m.param_mem[i] += 0.5f * rndf();
    train_steps(&m, &opt, c2, &bt, 1, &s2);
    CHECK(memcmp(mask0, ov2.masks[mi], 32 * 16) != 0, "recompute schedule updates masks from the weights");

    unlink(path);
    free(fq);
    free(mask0);
    sparq_compressor_free(c);
    sparq_compressor_free(c2);
    sparq_adamw_free(&opt);
    sparq_model_free(&m);
    return check_done();
}
