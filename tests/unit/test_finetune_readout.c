// Fine-tuning with the simulated int8 read-out (--readout q8): clip levels
// are calibrated during training, frozen with the scales, exported into the
// model file and read back bit for bit; the fine-tuning forward of every
// packed matmul equals the device path the runtime runs from the exported
// file (per-row int8 activations, sparq_gemm_ref, sparq_requant, read-back)
// bit for bit; the calibration survives save/load (resume); without the
// option nothing new is written.
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "sparq_ctc.h"
#include "sparq_error.h"
#include "sparq_finetune.h"
#include "sparq_gemm.h"
#include "sparq_layers.h"
#include "sparq_modelfile.h"
#include "sparq_readout.h"
#include "sparq_rng.h"
#include "sparq_spq_check.h"
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

// The runtime's q8 path for packed tensor p with clip levels from the file.
static int device_path(float *out, const float *x, int N, const struct sparq_packed *p, const float *clip,
                       const float *bias)
{
    int IN = p->in, OUT = p->out, rc = SPARQ_OK;
    int8_t *xq = malloc((size_t)N * IN), *q8 = malloc((size_t)N * OUT);
    float *rs = malloc(sizeof(float) * (size_t)N), *deq = malloc(sizeof(float) * (size_t)OUT);
    int32_t *acc = malloc(sizeof(int32_t) * (size_t)N * OUT);
    struct sparq_requant_params *rq = malloc(sizeof *rq * (size_t)OUT);
    for (int t = 0; t < N; t++) {
        rs[t] = sparq_act_row_scale(x + (size_t)t * IN, IN);
        for (int k = 0; k < IN; k++) {
            float c = rintf(x[(size_t)t * IN + k] / rs[t]);
            xq[(size_t)t * IN + k] = (int8_t)(c > 127.0f ? 127 : c < -127.0f ? -127 : (int)c);
        }
    }
    for (int o = 0; !rc && o < OUT; o++)
        rc = sparq_readout_channel(clip[o], p->scales[o], &rq[o], &deq[o]);
    sparq_gemm_ref(acc, OUT, xq, IN, p, N, 0);
    sparq_requant_ref(q8, OUT, acc, OUT, rq, N, OUT);
    for (int t = 0; t < N; t++)
        for (int o = 0; o < OUT; o++)
            out[(size_t)t * OUT + o] = (float)q8[(size_t)t * OUT + o] * (rs[t] * deq[o]) + bias[o];
    free(xq), free(q8), free(rs), free(deq), free(acc), free(rq);
    return rc;
}

// Every packed matmul of the file: the fine-tuning forward (the model's
// linear hook after pre_forward) == the device path, bit for bit.
static void check_train_is_serve(struct sparq_model *m, struct sparq_compressor *c, const struct sparq_mfile *f,
                                 int64_t step)
{
    sparq_compressor_pre_forward(c, m, step);
    int n = 0, same = 0, missing = 0;
    double worst = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        const struct sparq_mf_section *s = sparq_mfile_find(f, m->tensors[i].name, SPARQ_MF_PACKED);
        if (!s)
            continue;
        const struct sparq_packed *p = &s->packed;
        const float *clip;
        if (sparq_readout_get(f, "model.spq", m->tensors[i].name, p->out, &clip) || !clip) {
            missing++;
            continue;
        }
        int N = 13;
        float *x = malloc(sizeof(float) * (size_t)N * p->in), *bias = malloc(sizeof(float) * (size_t)p->out);
        float *y = malloc(sizeof(float) * (size_t)N * p->out), *z = malloc(sizeof(float) * (size_t)N * p->out);
        for (int k = 0; k < N * p->in; k++)
            x[k] = rndf() * (k % 3 ? 1.0f : 3.0f);
        for (int o = 0; o < p->out; o++)
            bias[o] = 0.05f * rndf();
        linear_forward_hooked(&m->hooks.linear, y, x, m->param_mem + m->tensors[i].offset, bias, N, p->in, p->out);
        int rc = device_path(z, x, N, p, clip, bias);
        n++;
        same += rc == 0 && memcmp(y, z, sizeof(float) * (size_t)N * p->out) == 0;
        for (int e = 0; e < N * p->out; e++)
            worst = fmax(worst, fabs((double)y[e] - z[e]));
        free(x), free(bias), free(y), free(z);
    }
    sparq_compressor_restore(c, m);
    CHECK(n == 20 && same == n && missing == 0,
          "fine-tuning forward == device path from the exported file, bit for bit, in %d of %d packed matmuls "
          "(%d without clips; worst difference %.3g)",
          same, n, missing, worst);
}

int main(void)
{
    rng = check_seed(1617);
    struct sparq_config cfg;
    tiny_model_config(&cfg);
    struct sparq_model m;
    struct sparq_adamw opt;
    sparq_model_create(&m, &cfg);
    sparq_model_init(&m, 12);
    sparq_adamw_init(&opt, &m, 0.9f, 0.98f, 1e-9f, 0.0f);
    for (int i = 0; i < B * T * cfg.n_mels; i++)
        feats[i] = rndf();
    for (int j = 0; j < B * L; j++)
        labels[j] = 3 + (j * 5) % 26;
    int64_t step = 0;
    train_steps(&m, &opt, NULL, 20, &step); // a "float base model"

    struct sparq_finetune_options o;
    sparq_finetune_default_options(&o);
    sparq_compress_spec_parse(&o.spec, "int4-2:4");
    o.readout_q8 = o.act_quant = 1;
    o.freeze_scales_at = 4;
    struct sparq_compressor *c;
    int rc = sparq_compressor_create(&c, &m, &o);
    struct sparq_export_overrides ov;
    sparq_compressor_overrides(c, &ov);
    int none = 1;
    for (int i = 0; i < m.n_tensors; i++)
        none &= ov.readout_clips[i] == NULL;
    CHECK(rc == 0 && none, "before the first step nothing is calibrated");

    int64_t ft = 0;
    train_steps(&m, &opt, c, 6, &ft);
    int calibrated = 0, sane = 1;
    for (int i = 0; i < m.n_tensors; i++)
        if (ov.readout_clips[i]) {
            calibrated++;
            int out = (int)(m.tensors[i].size / (size_t)m.tensors[i].fan_in);
            for (int k = 0; k < out; k++)
                sane &= ov.readout_clips[i][k] >= 1.0f && isfinite(ov.readout_clips[i][k]);
        }
    CHECK(calibrated == 20 && sane, "after fine-tuning all %d packed matmuls have clip levels >= 1 (%d)", 20,
          calibrated);
    int li = -1;
    for (int i = 0; i < m.n_tensors; i++)
        if (!strcmp(m.tensors[i].name, "layer1.ffn2_w2"))
            li = i;
    float frozen[16];
    memcpy(frozen, ov.readout_clips[li], sizeof frozen);
    train_steps(&m, &opt, c, 2, &ft);
    CHECK(memcmp(frozen, ov.readout_clips[li], sizeof frozen) == 0, "clip levels stay frozen with the scales");

    // Export, read back: the same clip levels, a file the checker accepts.
    char path[] = "/tmp/sparq_rq_XXXXXX";
    close(mkstemp(path));
    rc = sparq_export(&m, &o.spec, &ov, SPARQ_SCALE_MSE, path, NULL);
    struct sparq_mfile f;
    rc = rc ? rc : sparq_mfile_read(&f, path);
    rc = rc ? rc : sparq_spq_check(&f, path, &m);
    int equal = rc == 0;
    for (int i = 0; equal && i < m.n_tensors; i++)
        if (ov.readout_clips[i]) {
            const float *clip;
            int out = (int)(m.tensors[i].size / (size_t)m.tensors[i].fan_in);
            equal = sparq_readout_get(&f, path, m.tensors[i].name, out, &clip) == 0 && clip &&
                    memcmp(clip, ov.readout_clips[i], sizeof(float) * (size_t)out) == 0;
        }
    CHECK(equal, "calibrated clip levels round-trip through export and load, the file passes the checker (%s)",
          rc ? sparq_last_error() : "ok");
    if (rc == 0) {
        check_train_is_serve(&m, c, &f, ft);
        sparq_mfile_free(&f);
    }

    // Resume: the calibration survives save/load.
    char spath[] = "/tmp/sparq_rqs_XXXXXX";
    close(mkstemp(spath));
    struct sparq_compressor *c2 = NULL;
    rc = sparq_compressor_create(&c2, &m, &o);
    rc = rc ? rc : sparq_compressor_save(c, spath);
    rc = rc ? rc : sparq_compressor_load(c2, spath);
    struct sparq_export_overrides ov2;
    sparq_compressor_overrides(c2, &ov2);
    CHECK(rc == 0 && ov2.readout_clips[li] && memcmp(ov2.readout_clips[li], frozen, sizeof frozen) == 0,
          "read-out calibration survives compressor save/load");
    sparq_compressor_free(c2);

    // Without the option: no clip levels, no read-out section (the old format).
    o.readout_q8 = 0;
    rc = sparq_compressor_create(&c2, &m, &o);
    int64_t s2 = 0;
    train_steps(&m, &opt, c2, 1, &s2);
    sparq_compressor_overrides(c2, &ov2);
    rc = rc ? rc : sparq_export(&m, &o.spec, &ov2, SPARQ_SCALE_MSE, path, NULL);
    rc = rc ? rc : sparq_mfile_read(&f, path);
    int present = 1;
    rc = rc ? rc : sparq_readout_present(&f, path, &present);
    CHECK(rc == 0 && !present && ov2.readout_clips[li] == NULL,
          "without --readout q8 the file has no read-out sections");
    if (rc == 0)
        sparq_mfile_free(&f);
    sparq_compressor_free(c2);
    unlink(spath);
    unlink(path);
    sparq_compressor_free(c);
    sparq_adamw_free(&opt);
    sparq_model_free(&m);
    return check_done();
}
