// The whole model against PyTorch fixtures (tests/fixtures/make_conformer_fixtures.py):
// forward logits, CTC loss, every parameter gradient, BatchNorm running
// statistics, clipped AdamW steps and eval-mode logits; plus padding
// invariance (a padded batch equals each utterance alone).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sparq_ctc.h"
#include "sparq_error.h"
#include "sparq_model.h"
#include "sparq_train.h"

#ifndef FIXTURE // test_conformer_dwsep.c runs this file on the dwsep4 fixture
#define FIXTURE "tests/fixtures/conformer/tiny.bin"
#endif
// float32 forward with different summation orders than PyTorch's:
// max |diff| / max |ref| over the compared values.
#define TOL_LOGITS 1e-5
#define TOL_LOSS 1e-6    // relative; the loss is a sum of double-precision terms
#define TOL_GRAD 1e-4    // per tensor, max |diff| / max |ref|
// Two groups of parameters have an exact gradient of 0, so both sides hold
// rounding noise: conv_dw_b (feeds BatchNorm, which removes any constant)
// and the key slice of att_in_b (adds q.b_k to every score of a row, which
// softmax removes). They are compared absolutely on the scale of the whole
// gradient, and after AdamW (which turns noise into +-lr steps) only
// against the Adam step bound.
#define TOL_GRAD_NOISE 1e-5 // max |diff| / global max |ref|
#define TOL_BN_STATS 1e-5
// Adam divides by sqrt(v): tiny float differences in near-zero gradients
// become visible in the step, so later losses match less tightly.
#define TOL_ADAM_LOSS 1e-4
#define TOL_ADAM_PARAM 2e-3 // max |diff| / max |ref| per tensor after 3 steps
#define TOL_PAD 1e-5       // padded batch vs one utterance alone (eval mode)
// Dropout gradient check: central differences (float32 forward, double CTC)
// on the largest-gradient entries of the tensors dropout sits after or before.
#define DROP_P 0.2f
#define DROP_FD_STEP 5e-3
#define TOL_DROP_FD 5e-3 // |fd - analytic| / |analytic|

struct rec { char name[64]; int n; float *v; };
static struct rec recs[512];
static int nrec;

static int load_fixture(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    unsigned int len, n;
    while (fread(&len, 4, 1, f) == 1) {
        struct rec *r = &recs[nrec];
        if (len >= sizeof r->name || nrec >= 512 || fread(r->name, 1, len, f) != len || fread(&n, 4, 1, f) != 1)
            break;
        r->name[len] = 0;
        r->n = (int)n;
        r->v = malloc(sizeof(float) * (n ? n : 1));
        if (fread(r->v, 4, n, f) != n)
            break;
        nrec++;
    }
    fclose(f);
    return nrec;
}

static const struct rec *get(const char *name)
{
    for (int i = 0; i < nrec; i++)
        if (!strcmp(recs[i].name, name))
            return &recs[i];
    fprintf(stderr, "fixture record %s missing\n", name);
    exit(1);
}

static int noise_driven(const char *name, size_t j, int d)
{
    return strstr(name, "conv_dw_b") || (strstr(name, "att_in_b") && j >= (size_t)d && j < (size_t)2 * d);
}

// max |a-b| over noise-driven elements (noise != 0) or relative over the others.
static double param_diff(const char *name, const float *a, const float *b, size_t n, int d, int noise)
{
    double md = 0.0, mr = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (noise_driven(name, i, d) != noise)
            continue;
        md = fmax(md, fabs((double)a[i] - b[i]));
        mr = fmax(mr, fabs(b[i]));
    }
    return noise ? md : md / (mr > 0 ? mr : 1.0);
}

static double rel_diff_floor(const float *a, const float *b, size_t n, double floor)
{
    double md = 0.0, mr = floor;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        md = d > md ? d : md;
        mr = fabs(b[i]) > mr ? fabs(b[i]) : mr;
    }
    return md / (mr > 0 ? mr : 1.0);
}
static double rel_diff(const float *a, const float *b, size_t n) { return rel_diff_floor(a, b, n, 0.0); }
static double max_abs(const float *a, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        m = fabs(a[i]) > m ? fabs(a[i]) : m;
    return m;
}

// Compares logits (B, T2, V) at valid frames only.
static double logits_diff(const float *a, const float *ref, const int *olens, int B, int T2, int V)
{
    double md = 0.0, mr = 0.0;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < olens[b]; t++)
            for (int k = 0; k < V; k++) {
                size_t i = ((size_t)b * T2 + t) * V + k;
                double d = fabs((double)a[i] - ref[i]);
                md = d > md ? d : md;
                mr = fabs(ref[i]) > mr ? fabs(ref[i]) : mr;
            }
    return md / mr;
}

// A linear hook that only counts its calls and leaves the float path to work.
static int count_linear(void *ctx, float *out, const float *inp, const float *w, const float *b, int N, int IN,
                        int OUT)
{
    (void)out, (void)inp, (void)w, (void)b, (void)N, (void)IN, (void)OUT;
#pragma omp atomic
    (*(int *)ctx)++;
    return 0;
}

static double train_loss(struct sparq_model *m, struct sparq_acts *a, const float *x, const int *lens, int B, int T,
                         const int *tg, const int *tl, float *dlog)
{
    int T2 = sparq_forward(m, a, x, lens, B, T, 1);
    return sparq_ctc_batch(sparq_acts_logits(a), sparq_acts_out_lens(a), B, T2, m->cfg.vocab, tg, tl, dlog, NULL);
}

// Dropout (cfg.dropout): eval mode ignores it, a seed replays its masks, and
// backward applies the forward's masks (finite differences with the same seed).
static void check_dropout(struct sparq_model *m, struct sparq_acts *a, const float *x, const int *lens, int B, int T,
                          const int *tg, const int *tl)
{
    size_t nl = (size_t)B * T * m->cfg.vocab; // >= B*T2*vocab
    float *ref = malloc(sizeof(float) * nl), *dlog = calloc(nl, sizeof(float));
    float *g0 = malloc(sizeof(float) * m->n_params);
    int T2 = sparq_forward(m, a, x, lens, B, T, 0);
    size_t nv = (size_t)B * T2 * m->cfg.vocab;
    memcpy(ref, sparq_acts_logits(a), sizeof(float) * nv);
    m->cfg.dropout = DROP_P;
    m->dropout_seed = 11;
    sparq_forward(m, a, x, lens, B, T, 0);
    CHECK(!memcmp(ref, sparq_acts_logits(a), sizeof(float) * nv), "eval mode ignores dropout %.1f (logits identical)",
          (double)DROP_P);
    m->cfg.dropout = 0.0f;
    double l0 = train_loss(m, a, x, lens, B, T, tg, tl, dlog);
    sparq_model_zero_grad(m);
    sparq_backward(m, a, dlog);
    memcpy(g0, m->grad_mem, sizeof(float) * m->n_params);
    m->cfg.dropout = DROP_P;
    double l1 = train_loss(m, a, x, lens, B, T, tg, tl, dlog);
    memcpy(ref, sparq_acts_logits(a), sizeof(float) * nv);
    double l2 = train_loss(m, a, x, lens, B, T, tg, tl, dlog);
    int same = !memcmp(ref, sparq_acts_logits(a), sizeof(float) * nv);
    m->dropout_seed = 12;
    double l3 = train_loss(m, a, x, lens, B, T, tg, tl, NULL);
    CHECK(l1 != l0 && l1 == l2 && same && l3 != l1,
          "training-mode dropout changes the loss (%.6f -> %.6f), replays with its seed (%.6f), another seed "
          "draws other masks (%.6f)", l0, l1, l2, l3);
    m->dropout_seed = 11;
    train_loss(m, a, x, lens, B, T, tg, tl, dlog);
    sparq_model_zero_grad(m);
    sparq_backward(m, a, dlog);
    double gdiff = 0.0;
    for (size_t i = 0; i < m->n_params; i++)
        gdiff = fmax(gdiff, fabs(m->grad_mem[i] - g0[i]));
    const char *names[] = { "layer0.ffn1_w1", "layer0.ffn1_w2", "layer0.att_out_w", "layer0.conv_pw2_w",
                            "layer1.ffn2_w1", "layer1.ffn2_w2", "layer1.att_in_w", "layer1.conv_pw1_w" };
    double worst = 0.0;
    const char *worst_name = "";
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        const struct sparq_tensor_info *t = NULL;
        for (int i = 0; i < m->n_tensors; i++)
            if (!strcmp(m->tensors[i].name, names[k]))
                t = &m->tensors[i];
        if (!t) {
            CHECK(0, "tensor %s in the table", names[k]);
            continue;
        }
        // the 3 largest |gradient| entries: above the finite-difference noise
        size_t top[3] = { 0, 0, 0 };
        const float *g = m->grad_mem + t->offset;
        for (int r = 0; r < 3; r++)
            for (size_t j = 0; j < t->size; j++)
                if ((r < 1 || j != top[0]) && (r < 2 || j != top[1]) && fabsf(g[j]) > fabsf(g[top[r]]))
                    top[r] = j;
        for (int r = 0; r < 3; r++) {
            float *p = m->param_mem + t->offset + top[r], keep = *p;
            double an = g[top[r]];
            *p = keep + (float)DROP_FD_STEP;
            double lp = train_loss(m, a, x, lens, B, T, tg, tl, NULL);
            *p = keep - (float)DROP_FD_STEP;
            double lm = train_loss(m, a, x, lens, B, T, tg, tl, NULL);
            *p = keep;
            double fd = (lp - lm) / (2 * DROP_FD_STEP), e = fabs(fd - an) / fmax(fabs(an), 1e-6);
            if (e > worst)
                worst = e, worst_name = t->name;
        }
    }
    CHECK(gdiff > 0 && worst < TOL_DROP_FD,
          "dropout %.1f backward vs central differences with the same masks: worst %.2e (%s, tol %.0e)",
          (double)DROP_P, worst, worst_name, TOL_DROP_FD);
    m->cfg.dropout = 0.0f;
    free(ref);
    free(dlog);
    free(g0);
}

int main(void)
{
    if (load_fixture(FIXTURE) <= 0) {
        CHECK(0, "read %s", FIXTURE);
        return check_done();
    }
    sparq_threads_init();
    const struct rec *rc = get("config");
    const float *cf = rc->v;
    // an 8th value names the front-end (absent: conv2d)
    struct sparq_config cfg = { (int)cf[0], (int)cf[1], (int)cf[2], (int)cf[3], (int)cf[4], (int)cf[5], (int)cf[6],
                                SPARQ_VOCAB, 0.0f, rc->n > 7 ? (int)cf[7] : SPARQ_SUB_CONV2D };
    printf("# %s: subsampling = %s\n", FIXTURE, sparq_subsampling_name(cfg.subsampling));
    struct sparq_model m;
    CHECK(sparq_model_create(&m, &cfg) == SPARQ_OK, "create tiny model (%zu parameters)", m.n_params);

    // parameters: names and sizes of the fixture follow the C table exactly
    int names_ok = 1;
    for (int i = 0; i < m.n_tensors; i++) {
        char key[80];
        snprintf(key, sizeof key, "param:%s", m.tensors[i].name);
        const struct rec *r = get(key);
        if ((size_t)r->n != m.tensors[i].size) {
            names_ok = 0;
            printf("# %s: fixture %d values, table %zu\n", key, r->n, m.tensors[i].size);
            continue;
        }
        memcpy(m.param_mem + m.tensors[i].offset, r->v, sizeof(float) * r->n);
    }
    CHECK(names_ok, "fixture tensors match the parameter table (%d tensors)", m.n_tensors);
    for (int l = 0; l < cfg.n_layers; l++) {
        char k1[32], k2[32];
        snprintf(k1, sizeof k1, "bn_mean:%d", l);
        snprintf(k2, sizeof k2, "bn_var:%d", l);
        memcpy(m.buf.bn_mean[l], get(k1)->v, sizeof(float) * cfg.d_model);
        memcpy(m.buf.bn_var[l], get(k2)->v, sizeof(float) * cfg.d_model);
    }

    const struct rec *rl = get("lens"), *rt = get("targets"), *rtl = get("target_lens");
    int B = rl->n, lens[8], tl[8], tg[256], T = 0;
    for (int b = 0; b < B; b++) {
        lens[b] = (int)rl->v[b];
        tl[b] = (int)rtl->v[b];
        T = lens[b] > T ? lens[b] : T;
    }
    for (int i = 0; i < rt->n; i++)
        tg[i] = (int)rt->v[i];
    const float *x = get("input")->v;
    struct sparq_acts *a = sparq_acts_create(&cfg, B, T);
    // eval mode (running BatchNorm statistics) on the initial parameters
    int T2 = sparq_forward(&m, a, x, lens, B, T, 0);
    const int *ol = sparq_acts_out_lens(a);
    double dl = logits_diff(sparq_acts_logits(a), get("eval_logits")->v, ol, B, T2, cfg.vocab);
    CHECK(dl < TOL_LOGITS, "eval-mode logits vs PyTorch: %.2e", dl);

    T2 = sparq_forward(&m, a, x, lens, B, T, 1);
    const float *ref_ol = get("out_lens")->v;
    CHECK(T2 > 0 && ol[0] == (int)ref_ol[0] && ol[1] == (int)ref_ol[1] && ol[2] == (int)ref_ol[2],
          "subsampled lengths %d %d %d", ol[0], ol[1], ol[2]);
    const float *logits = sparq_acts_logits(a);
    dl = logits_diff(logits, get("logits")->v, ol, B, T2, cfg.vocab);
    CHECK(dl < TOL_LOGITS, "forward logits vs PyTorch: rel diff %.2e (tol %.0e)", dl, TOL_LOGITS);

    float *dlog = calloc((size_t)B * T2 * cfg.vocab, sizeof(float));
    double loss = sparq_ctc_batch(logits, ol, B, T2, cfg.vocab, tg, tl, dlog, NULL);
    double ref_loss = get("loss")->v[0];
    CHECK(fabs(loss - ref_loss) / ref_loss < TOL_LOSS, "CTC loss %.7f vs PyTorch %.7f", loss, ref_loss);

    sparq_model_zero_grad(&m);
    sparq_backward(&m, a, dlog);
    double worst = 0.0;
    const char *worst_name = "";
    int grads_ok = 1;
    double gmax = 0.0;
    for (int i = 0; i < m.n_tensors; i++) {
        char key[80];
        snprintf(key, sizeof key, "grad:%s", m.tensors[i].name);
        gmax = fmax(gmax, max_abs(get(key)->v, m.tensors[i].size));
    }
    double wnoise = 0.0;
    for (int i = 0; i < m.n_tensors; i++) {
        char key[80];
        snprintf(key, sizeof key, "grad:%s", m.tensors[i].name);
        const float *mine = m.grad_mem + m.tensors[i].offset, *ref = get(key)->v;
        double d = param_diff(m.tensors[i].name, mine, ref, m.tensors[i].size, cfg.d_model, 0);
        wnoise = fmax(wnoise, param_diff(m.tensors[i].name, mine, ref, m.tensors[i].size, cfg.d_model, 1) / gmax);
        if (d > worst)
            worst = d, worst_name = m.tensors[i].name;
        if (!(d < TOL_GRAD)) {
            grads_ok = 0;
            printf("# %s: rel diff %.3e\n", key, d);
        }
    }
    CHECK(grads_ok, "every parameter gradient vs PyTorch (worst %s %.2e, tol %.0e)", worst_name, worst, TOL_GRAD);
    CHECK(wnoise < TOL_GRAD_NOISE, "zero-in-theory gradients (conv_dw_b, key bias) are noise only: %.2e", wnoise);
    double dbn = 0.0;
    for (int l = 0; l < cfg.n_layers; l++) {
        char k1[32], k2[32];
        snprintf(k1, sizeof k1, "bn_mean_after:%d", l);
        snprintf(k2, sizeof k2, "bn_var_after:%d", l);
        double d1 = rel_diff(m.buf.bn_mean[l], get(k1)->v, cfg.d_model);
        double d2 = rel_diff(m.buf.bn_var[l], get(k2)->v, cfg.d_model);
        dbn = fmax(dbn, fmax(d1, d2));
    }
    CHECK(dbn < TOL_BN_STATS, "BatchNorm running statistics (masked) vs PyTorch: %.2e", dbn);

    // clipped AdamW steps: reload the initial parameters and BN stats first
    const float *hp = get("adam_hparams")->v;
    const struct rec *ref_losses = get("adam_losses"), *ref_norms = get("adam_grad_norms");
    struct sparq_adamw opt;
    sparq_adamw_init(&opt, &m, hp[1], hp[2], hp[3], hp[4]);
    double worst_loss = 0.0, worst_norm = 0.0;
    for (int s = 0; s <= (int)hp[6]; s++) {
        sparq_forward(&m, a, x, lens, B, T, 1);
        double l = sparq_ctc_batch(sparq_acts_logits(a), ol, B, T2, cfg.vocab, tg, tl, dlog, NULL);
        worst_loss = fmax(worst_loss, fabs(l - ref_losses->v[s]) / ref_losses->v[s]);
        printf("# adam step %d: loss %.7f (PyTorch %.7f)\n", s, l, ref_losses->v[s]);
        if (s == (int)hp[6])
            break;
        sparq_model_zero_grad(&m);
        sparq_backward(&m, a, dlog);
        double norm = sparq_clip_grad_norm(&m, hp[5]);
        worst_norm = fmax(worst_norm, fabs(norm - ref_norms->v[s]) / ref_norms->v[s]);
        sparq_adamw_step(&opt, &m, hp[0]);
    }
    CHECK(worst_norm < TOL_GRAD, "gradient norms before clipping vs PyTorch: %.2e", worst_norm);
    CHECK(worst_loss < TOL_ADAM_LOSS, "losses over %d clipped AdamW steps vs PyTorch: %.2e", (int)hp[6],
          worst_loss);
    double wp = 0.0, wdw = 0.0;
    for (int i = 0; i < m.n_tensors; i++) {
        char key[80];
        snprintf(key, sizeof key, "param_after:%s", m.tensors[i].name);
        const float *mine = m.param_mem + m.tensors[i].offset, *ref = get(key)->v;
        wdw = fmax(wdw, param_diff(m.tensors[i].name, mine, ref, m.tensors[i].size, cfg.d_model, 1));
        double d = param_diff(m.tensors[i].name, mine, ref, m.tensors[i].size, cfg.d_model, 0);
        if (d > wp)
            wp = d, worst_name = m.tensors[i].name;
    }
    CHECK(wp < TOL_ADAM_PARAM, "parameters after AdamW vs PyTorch: %.2e (worst %s)", wp, worst_name);
    CHECK(wdw <= 2 * hp[0] * hp[6] * 1.01, "noise-driven parameters after AdamW within 2*lr*steps: %.2e", wdw);

    // padding invariance (eval mode): each utterance alone equals its row of the padded batch
    sparq_forward(&m, a, x, lens, B, T, 0);
    float *batch_logits = malloc(sizeof(float) * (size_t)B * T2 * cfg.vocab);
    memcpy(batch_logits, sparq_acts_logits(a), sizeof(float) * (size_t)B * T2 * cfg.vocab);
    // decode-only activations (per-thread front-end slots, shared block buffers): the same bits
    struct sparq_acts *ev = sparq_acts_create_eval(&cfg, B, T);
    int same = ev && sparq_forward(&m, ev, x, lens, B, T, 0) == T2 &&
               !memcmp(sparq_acts_logits(ev), batch_logits, sizeof(float) * (size_t)B * T2 * cfg.vocab);
    CHECK(same, "eval-only activations give bit-identical logits");
    sparq_acts_free(ev);
    double wpad = 0.0;
    for (int b = 0; b < B; b++) {
        struct sparq_acts *one = sparq_acts_create(&cfg, 1, lens[b]);
        int t2 = sparq_forward(&m, one, x + (size_t)b * T * cfg.n_mels, &lens[b], 1, lens[b], 0);
        const float *lo = sparq_acts_logits(one);
        for (int t = 0; t < t2; t++)
            for (int k = 0; k < cfg.vocab; k++)
                wpad = fmax(wpad, fabs(lo[(size_t)t * cfg.vocab + k] -
                                       batch_logits[((size_t)b * T2 + t) * cfg.vocab + k]));
        sparq_acts_free(one);
    }
    CHECK(wpad < TOL_PAD, "padded batch equals each utterance alone (max diff %.2e)", wpad);

    // Hooks travel with their model: a counting hook on a second model is
    // called for every one of its matmuls (2 subsampling convs per utterance
    // (dwsep4: conv 1 and the pointwise conv; the depthwise conv is no matmul),
    // the subsampling linear, 8 per block, the output layer), and for none of
    // m's, even right after the second model ran.
    struct sparq_model other;
    int calls = 0;
    CHECK(sparq_model_create(&other, &cfg) == SPARQ_OK, "second model");
    sparq_model_init(&other, 3);
    other.hooks.linear = (struct sparq_linear_hook){ count_linear, &calls };
    sparq_forward(&other, a, x, lens, B, T, 0);
    int expect = 2 * B + 2 + 8 * cfg.n_layers;
    CHECK(calls == expect, "a model's linear hook is called once per weight matmul: %d of %d", calls, expect);
    calls = 0;
    sparq_forward(&m, a, x, lens, B, T, 0);
    int untouched = memcmp(sparq_acts_logits(a), batch_logits, sizeof(float) * (size_t)B * T2 * cfg.vocab) == 0;
    CHECK(calls == 0 && untouched, "and never by another model's forward (%d calls, logits %s)", calls,
          untouched ? "unchanged" : "changed");
    sparq_model_free(&other);
    check_dropout(&m, a, x, lens, B, T, tg, tl);

    free(batch_logits);
    free(dlog);
    sparq_adamw_free(&opt);
    sparq_acts_free(a);
    sparq_model_free(&m);
    for (int i = 0; i < nrec; i++)
        free(recs[i].v);
    return check_done();
}
