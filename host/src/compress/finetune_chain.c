// Compression-aware fine-tuning of the feed-forward chain (--readout chain):
// each FFN's forward pass is the device's chain with static scales
// (sparq_chain.h), step for step, so the integer runtime computes what was
// trained. W1's hook quantizes its input at s_in, requantizes the
// accumulator with the folded bias to q1 and hands the host q1 * s_1 (the
// host's Swish then runs on it only for the backward pass); W2's hook takes
// q1 from W1's call, applies the table and W2's read-out. Gradients pass
// straight through (the backward sees the unquantized values). A_in and A_1
// are calibrated as EMAs of the per-step maxima, like the read-out's clip
// levels (finetune_readout.c), and frozen with the scales.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "finetune_internal.h"
#include "sparq_error.h"
#include "sparq_export.h"

#define CHAIN_DECAY 0.9f // EMA weight of the previous maximum per training step
// The clips are the EMA maxima themselves: a per-tensor int8 scale is already
// coarse for the many small values, and the rare sample above the maximum
// only saturates (not tuned; docs/compression.md).
#define CHAIN_HEADROOM 1.0f

static const struct sparq_tensor_info *tinfo(const struct sparq_model *m, const struct ft_tensor *t)
{
    return &m->tensors[t->index];
}

int ft_chain_create(struct sparq_compressor *c, const struct sparq_model *m)
{
    for (int i = 0; i < c->n; i++)
        c->t[i].chain = -1;
    if (!c->o.chain)
        return SPARQ_OK;
    c->chain = sparq_calloc((size_t)c->n, sizeof *c->chain, "FFN chains");
    if (!c->chain)
        return SPARQ_ENOMEM;
    char w2[64], b1[64], b2[64];
    for (int i = 0; i < c->n; i++) {
        struct ft_tensor *t1 = &c->t[i];
        if (!t1->codes || !sparq_chain_names(tinfo(m, t1)->name, w2, b1, b2, sizeof w2))
            continue;
        for (int j = 0; j < c->n; j++) {
            struct ft_tensor *t2 = &c->t[j];
            // Both matrices packed with the simulated read-out; W2 (d x F) follows W1 (F x d).
            if (!t2->codes || strcmp(tinfo(m, t2)->name, w2) || t2->in != t1->out || t2->out != t1->in)
                continue;
            struct ft_chain *ch = &c->chain[c->n_chain];
            ch->w1 = i;
            ch->w2 = j;
            ch->q1_rows = -1;
            t1->chain = t2->chain = c->n_chain++;
        }
    }
    return SPARQ_OK;
}

void ft_chain_free(struct sparq_compressor *c)
{
    for (int k = 0; k < c->n_chain; k++) {
        sparq_chain_free(&c->chain[k].p);
        free(c->chain[k].q1);
    }
    free(c->chain);
    c->chain = NULL;
    c->n_chain = 0;
}

void ft_chain_pre_forward(struct sparq_compressor *c)
{
    for (int k = 0; k < c->n_chain; k++) {
        c->chain[k].step_in = c->chain[k].step_1 = 0;
        c->chain[k].seen = 0;
        c->chain[k].q1_rows = -1;
    }
}

static float max_abs(const float *x, size_t n)
{
    float m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmaxf(m, fabsf(x[i]));
    return m;
}

int ft_chain_w1(struct sparq_compressor *c, struct ft_tensor *t, float *out, const float *inp, const float *b, int N)
{
    struct ft_chain *ch = &c->chain[t->chain];
    const int d = t->in, F = t->out;
    size_t n = (size_t)N * F;
    // Before the first training step there is no calibration yet: this
    // call's own maxima.
    float call_in = max_abs(inp, (size_t)N * d);
    float a_in = ch->ready ? ch->a_in : call_in > 0 ? call_in : 1.0f;
    float *acc = malloc(sizeof(float) * (n ? n : 1));
    if (ch->q1_cap < n) {
        free(ch->q1);
        ch->q1 = malloc(n);
        ch->q1_cap = ch->q1 ? n : 0;
    }
    int rc = acc && ch->q1 ? sparq_chain_sim_acc1(acc, inp, N, d, t->codes, F, a_in / 127.0f) : SPARQ_ENOMEM;
    float call_1 = 0, s_in = a_in / 127.0f;
    for (int r = 0; !rc && r < N; r++)
        for (int o = 0; o < F; o++) // the pre-activation the integers stand for
            call_1 = fmaxf(call_1, fabsf(acc[(size_t)r * F + o] * (s_in * t->scales[o]) + (b ? b[o] : 0.0f)));
    float a_1 = ch->ready ? ch->a_1 : call_1 > 0 ? call_1 : 1.0f;
    rc = rc ? rc : sparq_chain_make(&ch->p, a_in, a_1, t->scales, b, F, NULL, NULL, d);
    if (!rc) {
        sparq_chain_sim_q1(ch->q1, out, acc, &ch->p, N);
        ch->q1_rows = N;
#pragma omp critical(sparq_chain_calibration)
        {
            ch->step_in = fmaxf(ch->step_in, call_in);
            ch->step_1 = fmaxf(ch->step_1, call_1);
            ch->seen = 1;
        }
    }
    free(acc);
    return rc == SPARQ_OK;
}

int ft_chain_w2(struct sparq_compressor *c, struct ft_tensor *t, float *out, const float *inp, const float *b, int N)
{
    struct ft_chain *ch = &c->chain[t->chain];
    const int F = t->in, d = t->out;
    (void)inp; // Swish(q1 * s_1) from the host: the table stands for it (train = serve)
    if (ch->q1_rows != N)
        return 0; // W1 did not run just before (cannot happen in the Conformer block)
    ch->q1_rows = -1;
    float *acc = malloc(sizeof(float) * ((size_t)N * d + 1));
    float *call_max = calloc((size_t)d, sizeof(float));
    float *clip = malloc(sizeof(float) * (size_t)d);
    int rc = acc && call_max && clip ? sparq_chain_sim_w2(NULL, acc, ch->q1, &ch->p, t->codes, NULL, N) : SPARQ_ENOMEM;
    for (int r = 0; !rc && r < N; r++)
        for (int o = 0; o < d; o++)
            call_max[o] = fmaxf(call_max[o], fabsf(acc[(size_t)r * d + o]));
    for (int o = 0; !rc && o < d; o++)
        clip[o] = t->rq_ready ? ft_readout_clip(t->rq_ema[o], t->scales[o]) : ft_readout_clip(call_max[o], 1.0f);
    // W2's read-out parameters by the same function the runtime uses.
    rc = rc ? rc : sparq_chain_make(&ch->p, ch->p.a_in, ch->p.a_1, c->t[ch->w1].scales, NULL, F, t->scales, clip, d);
    // (q1's params were made with W1's bias; only q2/deq2/s_2 matter here,
    // and s_2 depends on A_1 alone.)
    rc = rc ? rc : sparq_chain_sim_w2(out, acc, ch->q1, &ch->p, t->codes, b, N);
    if (!rc) {
#pragma omp critical(sparq_readout_calibration)
        {
            for (int o = 0; o < d; o++)
                t->rq_step[o] = fmaxf(t->rq_step[o], call_max[o] * t->scales[o]);
            t->rq_seen = 1;
        }
    }
    free(acc);
    free(call_max);
    free(clip);
    return rc == SPARQ_OK;
}

void ft_chain_post_step(struct sparq_compressor *c)
{
    for (int k = 0; k < c->n_chain; k++) {
        struct ft_chain *ch = &c->chain[k];
        if (ch->seen && !ft_frozen(c, c->step)) {
            ch->ema_in = ch->ready ? CHAIN_DECAY * ch->ema_in + (1.0f - CHAIN_DECAY) * ch->step_in : ch->step_in;
            ch->ema_1 = ch->ready ? CHAIN_DECAY * ch->ema_1 + (1.0f - CHAIN_DECAY) * ch->step_1 : ch->step_1;
            ch->ready = 1;
        }
        ch->seen = 0;
        if (ch->ready) {
            ch->a_in = ch->ema_in * CHAIN_HEADROOM > 0 ? ch->ema_in * CHAIN_HEADROOM : 1.0f;
            ch->a_1 = ch->ema_1 * CHAIN_HEADROOM > 0 ? ch->ema_1 * CHAIN_HEADROOM : 1.0f;
        }
    }
}

int ft_chain_save(const struct sparq_compressor *c, struct sparq_mfile *f)
{
    char name[64];
    int rc = SPARQ_OK;
    for (int k = 0; !rc && k < c->n_chain; k++)
        if (c->chain[k].ready) {
            float v[2] = { c->chain[k].ema_in, c->chain[k].ema_1 };
            snprintf(name, sizeof name, "t%d.chain_ema", c->t[c->chain[k].w1].index);
            rc = sparq_mfile_add_f32(f, name, v, 2);
        }
    return rc;
}

int ft_chain_load(struct sparq_compressor *c, const struct sparq_mfile *f)
{
    char name[64];
    for (int k = 0; k < c->n_chain; k++) {
        struct ft_chain *ch = &c->chain[k];
        snprintf(name, sizeof name, "t%d.chain_ema", c->t[ch->w1].index);
        const struct sparq_mf_section *s = sparq_mfile_find(f, name, SPARQ_MF_F32);
        if (!s)
            continue;
        if (s->count != 2)
            return sparq_fail(SPARQ_EFORMAT, "compressor state: section '%s': %zu floats, expected 2", name,
                              s->count);
        ch->ema_in = ((const float *)s->data)[0];
        ch->ema_1 = ((const float *)s->data)[1];
        ch->ready = 1;
        ch->seen = 0;
    }
    int64_t step = c->step;
    c->step = 0; // refresh the clips without folding anything in
    for (int k = 0; k < c->n_chain; k++)
        c->chain[k].seen = 0;
    ft_chain_post_step(c);
    c->step = step;
    return SPARQ_OK;
}

int sparq_compressor_add_chain(const struct sparq_compressor *c, const struct sparq_model *m, const char *path,
                               size_t *grown)
{
    if (grown)
        *grown = 0;
    int any = 0;
    for (int k = 0; k < c->n_chain; k++)
        any |= c->chain[k].ready;
    if (!any)
        return SPARQ_OK;
    struct sparq_mfile f;
    int rc = sparq_mfile_read(&f, path);
    if (rc)
        return rc;
    struct stat st;
    size_t before = stat(path, &st) ? 0 : (size_t)st.st_size;
    for (int k = 0; !rc && k < c->n_chain; k++)
        if (c->chain[k].ready)
            rc = sparq_chain_add(&f, m->tensors[c->t[c->chain[k].w1].index].name, c->chain[k].a_in, c->chain[k].a_1);
    rc = rc ? rc : sparq_mfile_write(&f, path);
    sparq_mfile_free(&f);
    if (!rc && grown && !stat(path, &st))
        *grown = (size_t)st.st_size - before;
    return rc;
}
