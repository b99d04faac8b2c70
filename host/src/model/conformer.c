// The Conformer-CTC model: parameter table, allocation, forward and backward.
#include "sparq_model.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forward_eval.h"
#include "sparq_error.h"
#include "sparq_layers.h"
#include "sparq_rng.h"

void sparq_threads_init(void) { openblas_set_num_threads(1); }

// ---- tensor table --------------------------------------------------------

int sparq_tensor_table(const struct sparq_config *c, struct sparq_tensor_info *out, size_t *n_params)
{
    int n = 0;
    size_t off = 0;
#define SPARQ_ADD(nm, count, fan, kind)                                               \
    do {                                                                              \
        if ((count) == 0)                                                             \
            break; /* another front-end's tensor */                                   \
        if (out) {                                                                    \
            struct sparq_tensor_info *t_ = &out[n];                                   \
            snprintf(t_->name, sizeof t_->name, "%s%s", prefix, #nm);                 \
            t_->offset = off;                                                         \
            t_->size = (count);                                                       \
            t_->fan_in = (fan);                                                       \
            t_->init = (kind);                                                        \
        }                                                                             \
        off += (count);                                                               \
        n++;                                                                          \
    } while (0);
    const char *prefix = "";
    SPARQ_GLOBAL_TENSORS(SPARQ_ADD, c)
    char lp[24];
    for (int l = 0; l < c->n_layers; l++) {
        snprintf(lp, sizeof lp, "layer%d.", l);
        prefix = lp;
        SPARQ_LAYER_TENSORS(SPARQ_ADD, c)
    }
    prefix = "";
    SPARQ_HEAD_TENSORS(SPARQ_ADD, c)
#undef SPARQ_ADD
    if (n_params)
        *n_params = off;
    return n;
}

void sparq_params_bind(const struct sparq_config *c, struct sparq_params *p, float *mem)
{
    memset(p, 0, sizeof *p);
    size_t off = 0;
#define SPARQ_BIND(nm, count, fan, kind)       \
    dst->nm = (count) != 0 ? mem + off : NULL; \
    off += (count);
    {
        struct sparq_params *dst = p;
        SPARQ_GLOBAL_TENSORS(SPARQ_BIND, c)
    }
    for (int l = 0; l < c->n_layers; l++) {
        struct sparq_layer_params *dst = &p->layer[l];
        SPARQ_LAYER_TENSORS(SPARQ_BIND, c)
    }
    {
        struct sparq_params *dst = p;
        SPARQ_HEAD_TENSORS(SPARQ_BIND, c)
    }
#undef SPARQ_BIND
}

int sparq_model_create(struct sparq_model *m, const struct sparq_config *c)
{
    memset(m, 0, sizeof *m);
    int rc = sparq_config_validate(c);
    if (rc)
        return rc;
    m->cfg = *c;
    m->n_tensors = sparq_tensor_table(c, NULL, &m->n_params);
    m->tensors = sparq_calloc((size_t)m->n_tensors, sizeof *m->tensors, "tensor table");
    m->param_mem = sparq_calloc(m->n_params, sizeof(float), "parameters");
    m->grad_mem = sparq_calloc(m->n_params, sizeof(float), "gradients");
    m->n_buffers = (size_t)2 * c->n_layers * c->d_model + 2 * (size_t)c->n_mels;
    m->buffer_mem = sparq_calloc(m->n_buffers, sizeof(float), "model buffers");
    if (!m->tensors || !m->param_mem || !m->grad_mem || !m->buffer_mem) {
        sparq_model_free(m);
        return SPARQ_ENOMEM;
    }
    sparq_tensor_table(c, m->tensors, NULL);
    sparq_params_bind(c, &m->p, m->param_mem);
    sparq_params_bind(c, &m->g, m->grad_mem);
    float *b = m->buffer_mem;
    for (int l = 0; l < c->n_layers; l++) {
        m->buf.bn_mean[l] = b;
        b += c->d_model;
        m->buf.bn_var[l] = b;
        b += c->d_model;
    }
    m->buf.cmvn_mean = b;
    b += c->n_mels;
    m->buf.cmvn_istd = b;
    return SPARQ_OK;
}

void sparq_model_free(struct sparq_model *m)
{
    free(m->tensors);
    free(m->param_mem);
    free(m->grad_mem);
    free(m->buffer_mem);
    memset(m, 0, sizeof *m);
}

void sparq_model_init(struct sparq_model *m, uint64_t seed)
{
    uint64_t rng = seed;
    for (int i = 0; i < m->n_tensors; i++) {
        const struct sparq_tensor_info *t = &m->tensors[i];
        float *p = m->param_mem + t->offset;
        float bound = 1.0f / sqrtf((float)t->fan_in);
        for (size_t j = 0; j < t->size; j++) {
            switch (t->init) {
            case SPARQ_INIT_W:
            case SPARQ_INIT_B: p[j] = (float)((2.0 * sparq_rng_uniform(&rng) - 1.0) * bound); break;
            case SPARQ_INIT_ONE: p[j] = 1.0f; break;
            case SPARQ_INIT_ZERO: p[j] = 0.0f; break;
            }
        }
    }
    for (int l = 0; l < m->cfg.n_layers; l++)
        for (int j = 0; j < m->cfg.d_model; j++) {
            m->buf.bn_mean[l][j] = 0.0f;
            m->buf.bn_var[l][j] = 1.0f;
        }
    for (int j = 0; j < m->cfg.n_mels; j++) {
        m->buf.cmvn_mean[j] = 0.0f;
        m->buf.cmvn_istd[j] = 1.0f;
    }
}

void sparq_model_zero_grad(struct sparq_model *m) { memset(m->grad_mem, 0, sizeof(float) * m->n_params); }

void sparq_apply_cmvn(const struct sparq_model *m, float *feats, int frames)
{
    int D = m->cfg.n_mels;
    for (int t = 0; t < frames; t++)
        for (int j = 0; j < D; j++)
            feats[(size_t)t * D + j] = (feats[(size_t)t * D + j] - m->buf.cmvn_mean[j]) * m->buf.cmvn_istd[j];
}

// ---- activations ---------------------------------------------------------
// The ONE table of saved activations per Conformer block: X(name, floats)
// with N = B*T2 frames, d, F = ffn_dim, A = B*H*T2*T2.
#define SPARQ_LAYER_ACTS(X)                                                                       \
    X(ln1, N * d) X(ln1_mean, N) X(ln1_rstd, N) X(h1, N * F) X(a1, N * F) X(x1, N * d)              \
    X(lna, N * d) X(lna_mean, N) X(lna_rstd, N) X(qkv, N * 3 * d) X(att, A) X(attv, N * d) X(x2, N * d) \
    X(lnc, N * d) X(lnc_mean, N) X(lnc_rstd, N) X(pw1, N * 2 * d) X(glu, N * d) X(dw, N * d)        \
    X(bn_mean, d) X(bn_rstd, d) X(bn, N * d) X(sil, N * d) X(x3, N * d)                             \
    X(ln2, N * d) X(ln2_mean, N) X(ln2_rstd, N) X(h2, N * F) X(a2, N * F) X(x4, N * d)              \
    X(lnf_mean, N) X(lnf_rstd, N) X(out, N * d)

// K = 1 for acts that keep what backward needs, 0 for eval-only acts (their
// training-only buffers are empty, and the first conv's output is one
// utterance per thread); E the other way round: the buffers the eval-only
// forward reuses across blocks (struct sparq_eval_bufs, x0 its x).
#define SPARQ_GLOBAL_ACTS(X)                                                                           \
    X(in, K * B * T * D) X(c1, (K * B + E * NT) * T1 * F1 * C) X(c2, (size_t)B * T2 * F2 * C) X(x0, N * d) \
    X(logits, N * V) X(g_res, K * N * d) X(g_c, K * N * d) X(g_a, K * N * W) X(g_b, K * N * W)          \
    X(dc2, K * B * T2 * F2 * C) X(dc1, K * NT * T1 * F1 * C) X(col, NT * S) X(dcol, K * NT * S)          \
    X(gsub, K * NT * G) X(dws, Q * (K * B + E * NT) * T2 * F2 * C)                                      \
    X(e_ln, E * N * d) X(e_tmp, E * N * d) X(e_big, E * N * W) X(e_att, E * NT * T2 * T2) X(e_mean, E * N)        \
    X(e_rstd, E * N) X(e_bn_mean, E * d) X(e_bn_rstd, E * d)

#define SPARQ_ACT_FIELD(name, n) float *name;
struct sparq_layer_acts {
    SPARQ_LAYER_ACTS(SPARQ_ACT_FIELD)
};
struct sparq_acts {
    int B, T, T1, T2; // the current batch: utterances and padded frame counts
    int training;     // mode of the last forward
    int eval_only;    // from sparq_acts_create_eval: no per-layer activations
    struct sparq_eval_bufs ev; // eval_only: the buffers every block reuses
    float drop_p;       // dropout of the last forward (0 in eval mode)
    uint64_t drop_seed; // its mask seed; backward regenerates the same masks
    struct sparq_config cfg;
    int cap_B;        // utterances the length arrays hold
    size_t cap_floats; // floats allocated in mem
    int nt;           // threads the per-utterance scratch is sized for
    size_t col_size;  // floats of im2col scratch per thread
    size_t gsub_size; // floats of the subsampling gradients (per-thread copies)
    int *lens, *lens1, *out_lens;
    float *mem;
    SPARQ_GLOBAL_ACTS(SPARQ_ACT_FIELD)
    struct sparq_layer_acts layer[SPARQ_MAX_LAYERS];
};
#undef SPARQ_ACT_FIELD

// Lays out the activations for a batch of B utterances of T input frames:
// returns the floats needed and, if carve != 0, points every field into a->mem.
static size_t acts_layout(struct sparq_acts *a, int B, int T, int carve)
{
    const struct sparq_config *c = &a->cfg;
    int T1 = sparq_sub_len1(T), T2 = sparq_sub_frames(T);
    if (T2 < 1)
        T2 = 1;
    if (T1 < 3)
        T1 = 3;
    size_t D = c->n_mels, C = c->sub_channels, d = c->d_model, F = c->ffn_dim, V = c->vocab;
    size_t F1 = sparq_sub_f1(c), F2 = sparq_sub_f2(c);
    size_t N = (size_t)B * T2, A = (size_t)B * c->n_heads * T2 * T2;
    size_t W = F > 3 * d ? F : 3 * d;
    // im2col scratch: conv2 of one utterance or conv1 (Cin = 1), whichever is
    // larger; dwsep4 has no im2col for conv2, its dcol holds d(depthwise out).
    // dws: dwsep4's depthwise output, per utterance (training) or per thread.
    size_t Q = c->subsampling == SPARQ_SUB_DWSEP4;
    size_t S = (size_t)T2 * F2 * (Q ? 1 : 9) * C, S1 = (size_t)T1 * F1 * 9;
    if (S1 > S)
        S = S1;
    // Subsampling runs one utterance per thread; each thread has its own
    // scratch and its own copy of the conv gradients (summed in thread order).
    size_t NT = (size_t)a->nt, G = a->gsub_size;
    size_t E = a->eval_only ? 1 : 0, K = 1 - E, LK = a->eval_only ? 0 : (size_t)c->n_layers;
    size_t total = 0;
#define SPARQ_ACT_COUNT(name, n) total += (n);
    SPARQ_GLOBAL_ACTS(SPARQ_ACT_COUNT)
    for (size_t l = 0; l < LK; l++) {
        SPARQ_LAYER_ACTS(SPARQ_ACT_COUNT)
    }
#undef SPARQ_ACT_COUNT
    if (!carve)
        return total;
    float *p = a->mem;
#define SPARQ_ACT_CARVE(name, n) \
    dst->name = p;               \
    p += (n);
    {
        struct sparq_acts *dst = a;
        SPARQ_GLOBAL_ACTS(SPARQ_ACT_CARVE)
    }
    for (size_t l = 0; l < LK; l++) {
        struct sparq_layer_acts *dst = &a->layer[l];
        SPARQ_LAYER_ACTS(SPARQ_ACT_CARVE)
    }
#undef SPARQ_ACT_CARVE
    a->ev = (struct sparq_eval_bufs){ a->x0, a->e_ln, a->e_tmp, a->e_big, a->e_att,
                                      a->e_mean, a->e_rstd, a->e_bn_mean, a->e_bn_rstd, a->nt };
    a->col_size = S;
    return total;
}

int sparq_acts_reserve(struct sparq_acts *a, int B, int T)
{
    size_t need = acts_layout(a, B, T, 0);
    if (need > a->cap_floats) {
        free(a->mem);
        a->cap_floats = 0;
        a->mem = sparq_malloc(sizeof(float) * need, "activations");
        if (!a->mem)
            return SPARQ_ENOMEM;
        a->cap_floats = need;
    }
    if (B > a->cap_B) {
        free(a->lens);
        a->cap_B = 0;
        a->lens = sparq_calloc((size_t)B * 3, sizeof(int), "lengths");
        if (!a->lens)
            return SPARQ_ENOMEM;
        a->cap_B = B;
    }
    a->lens1 = a->lens + a->cap_B;
    a->out_lens = a->lens + 2 * a->cap_B;
    acts_layout(a, B, T, 1);
    return SPARQ_OK;
}

static struct sparq_acts *acts_create(const struct sparq_config *c, int B, int T, int eval_only)
{
    struct sparq_acts *a = sparq_calloc(1, sizeof *a, "activations");
    if (!a)
        return NULL;
    a->cfg = *c;
    a->eval_only = eval_only;
    a->nt = omp_get_max_threads();
    struct sparq_tensor_info *tab = malloc(sizeof *tab * (size_t)sparq_tensor_table(c, NULL, NULL));
    if (!tab) {
        free(a);
        return NULL;
    }
    sparq_tensor_table(c, tab, NULL);
    // The subsampling convs' tensors come first in the table, up to sub_lin_w.
    int i = 0;
    while (strcmp(tab[i].name, "sub_lin_w"))
        i++;
    a->gsub_size = tab[i].offset;
    free(tab);
    if (sparq_acts_reserve(a, B, T)) {
        sparq_acts_free(a);
        return NULL;
    }
    return a;
}

struct sparq_acts *sparq_acts_create(const struct sparq_config *c, int B, int T) { return acts_create(c, B, T, 0); }

struct sparq_acts *sparq_acts_create_eval(const struct sparq_config *c, int B, int T)
{
    return acts_create(c, B, T, 1);
}

void sparq_acts_free(struct sparq_acts *a)
{
    if (!a)
        return;
    free(a->mem);
    free(a->lens);
    free(a);
}

const float *sparq_acts_logits(const struct sparq_acts *a) { return a->logits; }
const int *sparq_acts_out_lens(const struct sparq_acts *a) { return a->out_lens; }

// ---- forward -------------------------------------------------------------

// Dropout places of a block (torchaudio ConformerLayer; its attention-weight
// dropout inside MultiheadAttention is not modelled, see docs/model.md).
enum { DROP_FFN1_HID, DROP_FFN1_OUT, DROP_ATT_OUT, DROP_CONV_OUT, DROP_FFN2_HID, DROP_FFN2_OUT, DROP_SITES };

// Applies (forward) or re-applies to a gradient (backward) the mask of
// layer l's dropout place `site`: the same (seed, element) gives the same mask.
static void drop(const struct sparq_acts *a, int l, int site, float *x, size_t n)
{
    if (a->drop_p > 0.0f)
        dropout_apply(x, n, a->drop_p, a->drop_seed ^ ((uint64_t)(l * DROP_SITES + site + 1) << 40));
}

static void add_scaled(float *out, const float *x, const float *y, float s, size_t n)
{
#pragma omp parallel for if (n > 65536)
    for (size_t i = 0; i < n; i++)
        out[i] = x[i] + s * y[i];
}

static void ffn_forward(const struct sparq_acts *a, int l, int site, const struct sparq_linear_hook *hook,
                        float *xout, float *ln, float *lnm, float *lnr, float *h, float *act, float *tmp,
                        const float *x, const float *lnw, const float *lnb, const float *w1, const float *b1,
                        const float *w2, const float *b2, int N, int d, int F)
{
    layernorm_forward(ln, lnm, lnr, x, lnw, lnb, N, d);
    linear_forward_hooked(hook, h, ln, w1, b1, N, d, F);
    silu_forward(act, h, (size_t)N * F);
    drop(a, l, site, act, (size_t)N * F); // act keeps the dropped values: w2's input
    linear_forward_hooked(hook, tmp, act, w2, b2, N, F, d);
    drop(a, l, site + 1, tmp, (size_t)N * d);
    add_scaled(xout, x, tmp, 0.5f, (size_t)N * d);
}

static void block_forward(struct sparq_model *m, struct sparq_acts *a, int l, const float *x, int training)
{
    const struct sparq_config *c = &m->cfg;
    const struct sparq_layer_params *p = &m->p.layer[l];
    struct sparq_layer_acts *s = &a->layer[l];
    int B = a->B, T = a->T2, N = B * T, d = c->d_model, F = c->ffn_dim;
    size_t Nd = (size_t)N * d;
    const int *lens = a->out_lens;
    float *tmp = a->g_c;
    const struct sparq_linear_hook *hook = &m->hooks.linear;

    ffn_forward(a, l, DROP_FFN1_HID, hook, s->x1, s->ln1, s->ln1_mean, s->ln1_rstd, s->h1, s->a1, tmp, x,
                p->ffn1_ln_w, p->ffn1_ln_b, p->ffn1_w1, p->ffn1_b1, p->ffn1_w2, p->ffn1_b2, N, d, F);

    layernorm_forward(s->lna, s->lna_mean, s->lna_rstd, s->x1, p->att_ln_w, p->att_ln_b, N, d);
    linear_forward_hooked(hook, s->qkv, s->lna, p->att_in_w, p->att_in_b, N, d, 3 * d);
    attention_forward(s->attv, s->att, s->qkv, lens, B, T, d, c->n_heads);
    linear_forward_hooked(hook, tmp, s->attv, p->att_out_w, p->att_out_b, N, d, d);
    drop(a, l, DROP_ATT_OUT, tmp, Nd);
    add_scaled(s->x2, s->x1, tmp, 1.0f, Nd);

    layernorm_forward(s->lnc, s->lnc_mean, s->lnc_rstd, s->x2, p->conv_ln_w, p->conv_ln_b, N, d);
    linear_forward_hooked(hook, s->pw1, s->lnc, p->conv_pw1_w, p->conv_pw1_b, N, d, 2 * d);
    glu_forward(s->glu, s->pw1, N, d);
    dwconv_forward(s->dw, s->glu, p->conv_dw_w, p->conv_dw_b, lens, B, T, d, c->kernel);
    batchnorm_forward(s->bn, s->bn_mean, s->bn_rstd, s->dw, p->conv_bn_w, p->conv_bn_b, m->buf.bn_mean[l],
                      m->buf.bn_var[l], lens, B, T, d, training,
                      &m->hooks.batch_sum);
    silu_forward(s->sil, s->bn, Nd);
    linear_forward_hooked(hook, tmp, s->sil, p->conv_pw2_w, p->conv_pw2_b, N, d, d);
    drop(a, l, DROP_CONV_OUT, tmp, Nd);
    add_scaled(s->x3, s->x2, tmp, 1.0f, Nd);

    ffn_forward(a, l, DROP_FFN2_HID, hook, s->x4, s->ln2, s->ln2_mean, s->ln2_rstd, s->h2, s->a2, tmp, s->x3,
                p->ffn2_ln_w, p->ffn2_ln_b, p->ffn2_w1, p->ffn2_b1, p->ffn2_w2, p->ffn2_b2, N, d, F);
    layernorm_forward(s->out, s->lnf_mean, s->lnf_rstd, s->x4, p->final_ln_w, p->final_ln_b, N, d);
}

// relu(conv2d_s2(inp)): the model's conv hook when it takes the conv (the
// integer runtime: im2col rows quantized in place), else im2col + the linear
// hook + ReLU.
static void conv_relu(const struct sparq_model *m, float *out, const float *inp, const float *w, const float *b,
                      float *col, int tout, int Fin, int Cin, int Cout)
{
#ifdef SPARQ_MODEL_HOOKS_CONV
    const struct sparq_conv_hook *ch = &m->hooks.conv;
    if (tout > 0 && ch->fn && ch->fn(ch->ctx, out, inp, w, b, tout, Fin, Cin, Cout))
        return;
#endif
    conv2d_s2_forward(&m->hooks.linear, out, inp, w, b, col, tout, Fin, Cin, Cout);
    relu_forward(out, out, (size_t)(tout > 0 ? tout : 0) * ((Fin - 1) / 2) * Cout);
}

// Conv 1 (+ ReLU), then conv 2 (+ ReLU) or dwsep4's depthwise + pointwise
// (+ ReLU), one utterance per thread: a->c2 (B, T2, F2, C), zero past out_lens.
static void subsample_forward(struct sparq_model *m, struct sparq_acts *a, const float *inp)
{
    const struct sparq_config *c = &m->cfg;
    int B = a->B, T = a->T, T1 = a->T1, T2 = a->T2;
    int D = c->n_mels, C = c->sub_channels, F1 = sparq_sub_f1(c), F2 = sparq_sub_f2(c);
    int dws = c->subsampling == SPARQ_SUB_DWSEP4;
#pragma omp parallel for schedule(static) num_threads(a->nt)
    for (int b = 0; b < B; b++) {
        float *col = a->col + (size_t)omp_get_thread_num() * a->col_size;
        const float *in = inp + (size_t)b * T * D;
        size_t slot = a->eval_only ? (size_t)omp_get_thread_num() : (size_t)b; // backward reads every c1
        float *c1 = a->c1 + slot * T1 * F1 * C, *c2 = a->c2 + (size_t)b * T2 * F2 * C;
        int t1 = a->lens1[b], t2 = a->out_lens[b];
        conv_relu(m, c1, in, m->p.sub1_w, m->p.sub1_b, col, t1, D, 1, C);
        memset(c1 + (size_t)t1 * F1 * C, 0, sizeof(float) * (size_t)(T1 - t1) * F1 * C);
        if (dws) {
            float *dw = a->dws + slot * T2 * F2 * C;
            dwconv2d_s2_forward(dw, c1, m->p.sub2_dw_w, m->p.sub2_dw_b, t2, F1, C);
            linear_forward_hooked(&m->hooks.linear, c2, dw, m->p.sub2_pw_w, m->p.sub2_pw_b, t2 * F2, C, C);
            relu_forward(c2, c2, (size_t)t2 * F2 * C);
        } else {
            conv_relu(m, c2, c1, m->p.sub2_w, m->p.sub2_b, col, t2, F1, C, C);
        }
        memset(c2 + (size_t)t2 * F2 * C, 0, sizeof(float) * (size_t)(T2 - t2) * F2 * C);
    }
}

int sparq_forward(struct sparq_model *m, struct sparq_acts *a, const float *feats, const int *lens, int B, int T,
                  int training)
{
    const struct sparq_config *c = &m->cfg;
    if (B < 1)
        return sparq_fail(SPARQ_EINVAL, "empty batch");
    if (training && a->eval_only)
        return sparq_fail(SPARQ_EINVAL, "a training forward on eval-only activations");
    int rc = sparq_acts_reserve(a, B, T);
    if (rc)
        return rc;
    int T1 = sparq_sub_len1(T), T2 = sparq_sub_frames(T);
    for (int b = 0; b < B; b++) {
        if (lens[b] < 7 || lens[b] > T)
            return sparq_fail(SPARQ_EINVAL, "utterance %d of the batch has %d frames (need 7..%d)", b, lens[b], T);
        a->lens[b] = lens[b];
        a->lens1[b] = sparq_sub_len1(lens[b]);
        a->out_lens[b] = sparq_sub_frames(lens[b]);
    }
    a->B = B;
    a->T = T;
    a->T1 = T1;
    a->T2 = T2;
    a->training = training;
    a->drop_p = training ? c->dropout : 0.0f;
    a->drop_seed = m->dropout_seed;
    int D = c->n_mels, C = c->sub_channels, F2 = sparq_sub_f2(c), d = c->d_model;
    int N = B * T2;
    // Backward reads the input again; an eval-only forward reads the caller's copy.
    if (!a->eval_only)
        memcpy(a->in, feats, sizeof(float) * (size_t)B * T * D);
    subsample_forward(m, a, a->eval_only ? feats : a->in);
    linear_forward_hooked(&m->hooks.linear, a->x0, a->c2, m->p.sub_lin_w, m->p.sub_lin_b, N, F2 * C, d);
    const float *x = a->x0;
    for (int l = 0; l < c->n_layers; l++) {
        if (a->eval_only) {
            sparq_block_forward_eval(m, l, &a->ev, a->out_lens, B, T2);
            x = a->ev.x;
            continue;
        }
        block_forward(m, a, l, x, training);
        x = a->layer[l].out;
    }
    linear_forward_hooked(&m->hooks.linear, a->logits, x, m->p.out_w, m->p.out_b, N, d, c->vocab);
    return T2;
}

// ---- backward ------------------------------------------------------------

static void zero(float *p, size_t n) { memset(p, 0, sizeof(float) * n); }

// dx (N, d) holds d(loss)/d(xout) and receives d(loss)/d(x) added in place:
// xout = x + 0.5 * FFN(x).
static void ffn_backward(const struct sparq_acts *a, int l, int site, float *dx, float *g_a, float *g_b,
                         const float *x, const float *ln, const float *lnm, const float *lnr, const float *h,
                         const float *act, const float *lnw, const float *w1,
                         const float *w2, float *dlnw, float *dlnb, float *dw1, float *db1, float *dw2, float *db2,
                         int N, int d, int F)
{
    size_t Nd = (size_t)N * d, NF = (size_t)N * F;
    for (size_t i = 0; i < Nd; i++)
        g_b[i] = 0.5f * dx[i];
    drop(a, l, site + 1, g_b, Nd);
    zero(g_a, NF);
    linear_backward(g_a, dw2, db2, g_b, act, w2, N, F, d);
    drop(a, l, site, g_a, NF);
    zero(g_b, NF);
    silu_backward(g_b, g_a, h, NF);
    zero(g_a, Nd);
    linear_backward(g_a, dw1, db1, g_b, ln, w1, N, d, F);
    layernorm_backward(dx, dlnw, dlnb, g_a, x, lnw, lnm, lnr, N, d);
}

// The gradient reaching a dropout place's input: dx itself without dropout,
// else dx through the place's mask, written to scratch.
static const float *dropped(const struct sparq_acts *a, int l, int site, float *scratch, const float *dx, size_t n)
{
    if (!(a->drop_p > 0.0f))
        return dx;
    memcpy(scratch, dx, sizeof(float) * n);
    drop(a, l, site, scratch, n);
    return scratch;
}

// On entry *R holds d(loss)/d(block output); on return d(loss)/d(block input).
static void block_backward(struct sparq_model *m, struct sparq_acts *a, int l, const float *x, float **R, float **S)
{
    const struct sparq_config *c = &m->cfg;
    const struct sparq_layer_params *p = &m->p.layer[l];
    struct sparq_layer_params *g = &m->g.layer[l];
    struct sparq_layer_acts *s = &a->layer[l];
    int B = a->B, T = a->T2, N = B * T, d = c->d_model, F = c->ffn_dim;
    size_t Nd = (size_t)N * d;
    const int *lens = a->out_lens;
    float *ga = a->g_a, *gb = a->g_b;

    zero(*S, Nd);
    layernorm_backward(*S, g->final_ln_w, g->final_ln_b, *R, s->x4, p->final_ln_w, s->lnf_mean, s->lnf_rstd, N, d);
    float *t = *R;
    *R = *S;
    *S = t;
    float *dx = *R;

    ffn_backward(a, l, DROP_FFN2_HID, dx, ga, gb, s->x3, s->ln2, s->ln2_mean, s->ln2_rstd, s->h2, s->a2,
                 p->ffn2_ln_w, p->ffn2_w1, p->ffn2_w2, g->ffn2_ln_w, g->ffn2_ln_b, g->ffn2_w1, g->ffn2_b1,
                 g->ffn2_w2, g->ffn2_b2, N, d, F);

    zero(ga, Nd);
    linear_backward(ga, g->conv_pw2_w, g->conv_pw2_b, dropped(a, l, DROP_CONV_OUT, gb, dx, Nd), s->sil,
                    p->conv_pw2_w, N, d, d);
    zero(gb, Nd);
    silu_backward(gb, ga, s->bn, Nd);
    zero(ga, Nd);
    batchnorm_backward(ga, g->conv_bn_w, g->conv_bn_b, gb, s->dw, p->conv_bn_w, s->bn_mean, s->bn_rstd, lens, B, T,
                       d, a->training, &m->hooks.batch_sum);
    zero(gb, Nd);
    dwconv_backward(gb, g->conv_dw_w, g->conv_dw_b, ga, s->glu, p->conv_dw_w, lens, B, T, d, c->kernel);
    zero(ga, 2 * Nd);
    glu_backward(ga, gb, s->pw1, N, d);
    zero(gb, Nd);
    linear_backward(gb, g->conv_pw1_w, g->conv_pw1_b, ga, s->lnc, p->conv_pw1_w, N, d, 2 * d);
    layernorm_backward(dx, g->conv_ln_w, g->conv_ln_b, gb, s->x2, p->conv_ln_w, s->lnc_mean, s->lnc_rstd, N, d);

    zero(ga, Nd);
    linear_backward(ga, g->att_out_w, g->att_out_b, dropped(a, l, DROP_ATT_OUT, gb, dx, Nd), s->attv,
                    p->att_out_w, N, d, d);
    zero(gb, 3 * Nd);
    attention_backward(gb, ga, s->qkv, s->att, lens, B, T, d, c->n_heads);
    zero(ga, Nd);
    linear_backward(ga, g->att_in_w, g->att_in_b, gb, s->lna, p->att_in_w, N, d, 3 * d);
    layernorm_backward(dx, g->att_ln_w, g->att_ln_b, ga, s->x1, p->att_ln_w, s->lna_mean, s->lna_rstd, N, d);

    ffn_backward(a, l, DROP_FFN1_HID, dx, ga, gb, x, s->ln1, s->ln1_mean, s->ln1_rstd, s->h1, s->a1,
                 p->ffn1_ln_w, p->ffn1_w1, p->ffn1_w2, g->ffn1_ln_w, g->ffn1_ln_b, g->ffn1_w1, g->ffn1_b1,
                 g->ffn1_w2, g->ffn1_b2, N, d, F);
}

static void relu_mask(float *g, const float *out, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++)
        g[i] = out[i] > 0.0f ? g[i] : 0.0f;
}

// One thread's copy of the subsampling convs' gradients: the tensors before
// sub_lin_w at their table offsets in `base` (NULL where the config has none).
struct sub_grads {
    float *sub1_w, *sub1_b, *sub2_w, *sub2_b, *sub2_dw_w, *sub2_dw_b, *sub2_pw_w, *sub2_pw_b;
};
static struct sub_grads sub_grads_of(const struct sparq_model *m, float *base)
{
    const struct sparq_params *p = &m->p;
#define AT(t) (p->t ? base + (p->t - m->param_mem) : NULL)
    return (struct sub_grads){ AT(sub1_w),    AT(sub1_b),    AT(sub2_w),    AT(sub2_b),
                               AT(sub2_dw_w), AT(sub2_dw_b), AT(sub2_pw_w), AT(sub2_pw_b) };
#undef AT
}

void sparq_backward(struct sparq_model *m, struct sparq_acts *a, const float *dlogits)
{
    if (a->eval_only)
        abort(); // a programming error: eval-only activations keep nothing to differentiate
    const struct sparq_config *c = &m->cfg;
    int B = a->B, T = a->T, T1 = a->T1, T2 = a->T2, N = B * T2, d = c->d_model, L = c->n_layers;
    int D = c->n_mels, C = c->sub_channels, F1 = sparq_sub_f1(c), F2 = sparq_sub_f2(c);
    float *R = a->g_res, *S = a->g_c;
    const float *xl = L > 0 ? a->layer[L - 1].out : a->x0;
    zero(R, (size_t)N * d);
    linear_backward(R, m->g.out_w, m->g.out_b, dlogits, xl, m->p.out_w, N, d, c->vocab);
    for (int l = L - 1; l >= 0; l--)
        block_backward(m, a, l, l > 0 ? a->layer[l - 1].out : a->x0, &R, &S);
    zero(a->dc2, (size_t)N * F2 * C);
    linear_backward(a->dc2, m->g.sub_lin_w, m->g.sub_lin_b, R, a->c2, m->p.sub_lin_w, N, F2 * C, d);
    // Per-thread gradient copies, laid out like the first tensors of the
    // table, so the reduction below has one fixed order for a thread count.
    size_t G = a->gsub_size;
    zero(a->gsub, (size_t)a->nt * G);
#pragma omp parallel num_threads(a->nt)
    {
        int tid = omp_get_thread_num();
        struct sub_grads gp = sub_grads_of(m, a->gsub + (size_t)tid * G);
        float *col = a->col + (size_t)tid * a->col_size, *dcol = a->dcol + (size_t)tid * a->col_size;
        float *dc1 = a->dc1 + (size_t)tid * T1 * F1 * C;
#pragma omp for schedule(static)
        for (int b = 0; b < B; b++) {
            const float *in = a->in + (size_t)b * T * D;
            const float *c1 = a->c1 + (size_t)b * T1 * F1 * C, *c2 = a->c2 + (size_t)b * T2 * F2 * C;
            float *dc2 = a->dc2 + (size_t)b * T2 * F2 * C;
            int t1 = a->lens1[b], t2 = a->out_lens[b];
            relu_mask(dc2, c2, (size_t)t2 * F2 * C);
            zero(dc1, (size_t)t1 * F1 * C);
            if (c->subsampling == SPARQ_SUB_DWSEP4) {
                // dcol: d(depthwise output) of this utterance
                const float *dw = a->dws + (size_t)b * T2 * F2 * C;
                zero(dcol, (size_t)t2 * F2 * C);
                linear_backward(dcol, gp.sub2_pw_w, gp.sub2_pw_b, dc2, dw, m->p.sub2_pw_w, t2 * F2, C, C);
                dwconv2d_s2_backward(dc1, gp.sub2_dw_w, gp.sub2_dw_b, dcol, c1, m->p.sub2_dw_w, t2, F1, C);
            } else {
                conv2d_s2_backward(dc1, gp.sub2_w, gp.sub2_b, dc2, c1, m->p.sub2_w, col, dcol, t2, F1, C, C);
            }
            relu_mask(dc1, c1, (size_t)t1 * F1 * C);
            conv2d_s2_backward(NULL, gp.sub1_w, gp.sub1_b, dc1, in, m->p.sub1_w, col, NULL, t1, D, 1, C);
        }
    }
    for (int t = 0; t < a->nt; t++) {
        const float *src = a->gsub + (size_t)t * G;
        for (size_t i = 0; i < G; i++)
            m->grad_mem[i] += src[i];
    }
}
