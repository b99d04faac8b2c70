// Compression-aware fine-tuning of the int8 read-out (--readout q8): every
// packed matmul's output goes through the device's requantization in the
// forward pass (sparq_readout.h), with per-channel clip levels calibrated as
// an EMA of the per-step max |accumulator|; gradients pass straight through.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finetune_internal.h"
#include "sparq_error.h"

#define RQ_DECAY 0.9f // EMA weight of the previous clip level per training step
// Clip level = RQ_HEADROOM x the calibrated max: unseen data goes past the
// training maxima now and then, and saturation costs more than rounding
// (demo int4 2:4 model, 57 test utterances, relative rms logit error of the
// q8 path against the float one with the stored levels scaled by 0.5 / 0.7 /
// 1 / 1.25 / 1.5 / 2: 0.306 / 0.123 / 0.0285 / 0.0224 / 0.0246 / 0.0311).
#define RQ_HEADROOM 1.25

int ft_readout_alloc(struct ft_tensor *t)
{
    t->codes = sparq_malloc(sizeof(float) * (size_t)t->out * t->in, "read-out weight codes");
    t->rq_ema = sparq_calloc((size_t)t->out, sizeof(float), "read-out clip levels");
    t->rq_step = sparq_calloc((size_t)t->out, sizeof(float), "read-out clip levels");
    t->rq_clip = sparq_calloc((size_t)t->out, sizeof(float), "read-out clip levels");
    return t->codes && t->rq_ema && t->rq_step && t->rq_clip ? SPARQ_OK : SPARQ_ENOMEM;
}

void ft_readout_free(struct ft_tensor *t)
{
    free(t->codes);
    free(t->rq_ema);
    free(t->rq_step);
    free(t->rq_clip);
}

void ft_readout_pre_forward(struct ft_tensor *t, const float *wq)
{
    // The fake-quantized weights are code * scale exactly (or 0): dividing
    // back and rounding recovers the code.
    for (int o = 0; o < t->out; o++)
        for (int k = 0; k < t->in; k++) {
            size_t e = (size_t)o * t->in + k;
            t->codes[e] = rintf(wq[e] / t->scales[o]);
        }
    memset(t->rq_step, 0, sizeof(float) * (size_t)t->out);
    t->rq_seen = 0;
}

// Clip level in accumulator units from a level over s_w (an integer
// accumulator below 1 in magnitude is 0, so 1 is the smallest useful level),
// as the float the model file stores: the forward pass uses exactly that.
float ft_readout_clip(double level, float s_w)
{
    double a = RQ_HEADROOM * level / s_w;
    return a >= 1.0 && a < 1e30 ? (float)a : 1.0f;
}

int ft_readout_linear(struct ft_tensor *t, float *out, const float *inp, const float *b, int N)
{
    int OUT = t->out;
    float *acc = malloc(sizeof(float) * (size_t)N * OUT);
    float *rs = malloc(sizeof(float) * (size_t)N);
    float *call_max = calloc((size_t)OUT, sizeof(float));
    float *deq = malloc(sizeof(float) * (size_t)OUT);
    struct sparq_requant_params *p = malloc(sizeof *p * (size_t)OUT);
    int rc = acc && rs && call_max && deq && p ? sparq_readout_acc(acc, rs, inp, N, t->in, t->codes, OUT)
                                                : SPARQ_ENOMEM;
    if (!rc) {
        for (int r = 0; r < N; r++)
            for (int o = 0; o < OUT; o++)
                call_max[o] = fmaxf(call_max[o], fabsf(acc[(size_t)r * OUT + o]));
        // Before the first training step there is no calibration yet: this
        // call's own maxima (deterministic under the per-utterance threads).
        for (int o = 0; !rc && o < OUT; o++)
            rc = sparq_readout_channel(t->rq_ready ? ft_readout_clip(t->rq_ema[o], t->scales[o])
                                                   : ft_readout_clip(call_max[o], 1.0f),
                                       t->scales[o], &p[o], &deq[o]);
    }
    if (!rc) {
        sparq_readout_apply(out, acc, rs, N, OUT, p, deq, b);
#pragma omp critical(sparq_readout_calibration)
        {
            for (int o = 0; o < OUT; o++)
                t->rq_step[o] = fmaxf(t->rq_step[o], call_max[o] * t->scales[o]);
            t->rq_seen = 1;
        }
    }
    free(acc);
    free(rs);
    free(call_max);
    free(deq);
    free(p);
    return rc == SPARQ_OK;
}

void ft_readout_post_step(struct sparq_compressor *c, int i)
{
    struct ft_tensor *t = &c->t[i];
    if (!t->codes)
        return;
    if (t->rq_seen && !ft_frozen(c, c->step)) {
        for (int o = 0; o < t->out; o++)
            t->rq_ema[o] = t->rq_ready ? RQ_DECAY * t->rq_ema[o] + (1.0f - RQ_DECAY) * t->rq_step[o] : t->rq_step[o];
        t->rq_ready = 1;
    }
    t->rq_seen = 0;
    if (!t->rq_ready)
        return;
    for (int o = 0; o < t->out; o++)
        t->rq_clip[o] = ft_readout_clip(t->rq_ema[o], t->scales[o]);
    c->clip_ptrs[t->index] = t->rq_clip;
}

int ft_readout_save(const struct sparq_compressor *c, struct sparq_mfile *f)
{
    char name[64];
    int rc = SPARQ_OK;
    for (int i = 0; !rc && i < c->n; i++)
        if (c->t[i].codes && c->t[i].rq_ready) {
            snprintf(name, sizeof name, "t%d.rq_ema", c->t[i].index);
            rc = sparq_mfile_add_f32(f, name, c->t[i].rq_ema, (size_t)c->t[i].out);
        }
    return rc;
}

// A state without the sections (written before --readout q8 existed, or
// before the first step) leaves the tensor uncalibrated.
int ft_readout_load(struct sparq_compressor *c, const struct sparq_mfile *f)
{
    char name[64];
    for (int i = 0; i < c->n; i++) {
        struct ft_tensor *t = &c->t[i];
        snprintf(name, sizeof name, "t%d.rq_ema", t->index);
        const struct sparq_mf_section *s = sparq_mfile_find(f, name, SPARQ_MF_F32);
        if (!t->codes || !s)
            continue;
        if (s->count != (size_t)t->out)
            return sparq_fail(SPARQ_EFORMAT, "compressor state: section '%s': %zu floats, expected %d", name,
                              s->count, t->out);
        memcpy(t->rq_ema, s->data, sizeof(float) * (size_t)t->out);
        t->rq_ready = 1;
        t->rq_seen = 0;
        for (int o = 0; o < t->out; o++)
            t->rq_clip[o] = ft_readout_clip(t->rq_ema[o], t->scales[o]);
        c->clip_ptrs[t->index] = t->rq_clip;
    }
    return SPARQ_OK;
}
