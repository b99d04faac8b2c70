// Compression-aware fine-tuning state and hooks (sparq_finetune.h).
#include "sparq_finetune.h"
#include "finetune_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sparq_error.h"
#include "sparq_layers.h"
#include "sparq_modelfile.h"

void sparq_finetune_default_options(struct sparq_finetune_options *o)
{
    memset(o, 0, sizeof *o);
    sparq_compress_spec_parse(&o->spec, "int4-2:4");
    o->scale_method = SPARQ_SCALE_MSE;
    o->schedule = SPARQ_MASK_ONESHOT;
    o->mask_every = 100;
    o->gradual_steps = 200;
    o->mask_grad = SPARQ_MASK_GRAD_MASKED;
    o->srste_lambda = 2e-4f;
    o->lsq_lr = 1e-4f;
}

int sparq_mask_schedule_parse(const char *s, enum sparq_mask_schedule *out)
{
    if (!strcmp(s, "oneshot"))
        *out = SPARQ_MASK_ONESHOT;
    else if (!strcmp(s, "recompute"))
        *out = SPARQ_MASK_RECOMPUTE;
    else if (!strcmp(s, "gradual"))
        *out = SPARQ_MASK_GRADUAL;
    else
        return sparq_fail(SPARQ_EINVAL, "mask schedule '%s' (expected oneshot, recompute or gradual)", s);
    return SPARQ_OK;
}

int sparq_scale_method_parse(const char *s, enum sparq_scale_method *out)
{
    if (!strcmp(s, "maxabs"))
        *out = SPARQ_SCALE_MAXABS;
    else if (!strcmp(s, "mse"))
        *out = SPARQ_SCALE_MSE;
    else if (!strcmp(s, "lsq"))
        *out = SPARQ_SCALE_LSQ;
    else
        return sparq_fail(SPARQ_EINVAL, "scale method '%s' (expected maxabs, mse or lsq)", s);
    return SPARQ_OK;
}

#define SCALE_EVERY 20 // steps between MSE scale searches

int sparq_compressor_count(const struct sparq_compressor *c) { return c->n; }

void sparq_compressor_free(struct sparq_compressor *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->n; i++) {
        free(c->t[i].mask);
        free(c->t[i].scales);
        free(c->t[i].master);
        free(c->t[i].dscale);
        free(c->t[i].sm);
        free(c->t[i].sv);
        ft_readout_free(&c->t[i]);
    }
    ft_chain_free(c);
    free(c->t);
    free(c->grad_copy);
    free(c->mask_ptrs);
    free(c->scale_ptrs);
    free(c->clip_ptrs);
    free(c);
}

int sparq_compressor_create(struct sparq_compressor **dst, const struct sparq_model *m,
                            const struct sparq_finetune_options *o)
{
    *dst = NULL;
    int rc = sparq_config_check_compressible(&m->cfg, "fine-tuning");
    if (rc)
        return rc;
    if (o->chain && !o->readout_q8)
        return sparq_fail(SPARQ_EINVAL, "the FFN chain (--readout chain) needs the simulated int8 read-out");
    struct sparq_compressor *c = sparq_calloc(1, sizeof *c, "compressor");
    if (!c)
        return SPARQ_ENOMEM;
    c->o = *o;
    c->n_tensors = m->n_tensors;
    c->t = sparq_calloc((size_t)m->n_tensors, sizeof *c->t, "compressor tensors");
    c->mask_ptrs = sparq_calloc((size_t)m->n_tensors, sizeof *c->mask_ptrs, "compressor masks");
    c->scale_ptrs = sparq_calloc((size_t)m->n_tensors, sizeof *c->scale_ptrs, "compressor scales");
    c->clip_ptrs = sparq_calloc((size_t)m->n_tensors, sizeof *c->clip_ptrs, "compressor clip levels");
    if (!c->t || !c->mask_ptrs || !c->scale_ptrs || !c->clip_ptrs) {
        sparq_compressor_free(c);
        return SPARQ_ENOMEM;
    }
    for (int i = 0; i < m->n_tensors; i++) {
        int out, in;
        if (!sparq_tensor_is_matmul(&m->tensors[i], &out, &in))
            continue;
        struct sparq_layer_setting s = sparq_compress_spec_lookup(&o->spec, m->tensors[i].name);
        if (s.width == 0 && s.kept == 4)
            continue;
        struct ft_tensor *t = &c->t[c->n++];
        t->index = i;
        t->out = out;
        t->in = in;
        t->s = s;
        t->kept_now = o->schedule == SPARQ_MASK_GRADUAL ? 4 : s.kept;
        size_t n = (size_t)out * in;
        t->mask = sparq_malloc(n, "mask");
        t->scales = sparq_calloc((size_t)out, sizeof(float), "scales");
        t->master = sparq_malloc(sizeof(float) * n, "master weights");
        t->dscale = sparq_calloc((size_t)out, sizeof(float), "scale gradients");
        t->sm = sparq_calloc((size_t)out, sizeof(float), "scale moments");
        t->sv = sparq_calloc((size_t)out, sizeof(float), "scale moments");
        if (!t->mask || !t->scales || !t->master || !t->dscale || !t->sm || !t->sv ||
            (o->readout_q8 && s.width > 0 && ft_readout_alloc(t))) {
            sparq_compressor_free(c);
            return SPARQ_ENOMEM;
        }
        memset(t->mask, 1, n);
        c->mask_ptrs[i] = t->mask;
        c->scale_ptrs[i] = t->scales;
    }
    size_t largest = 1;
    for (int i = 0; i < c->n; i++)
        if ((size_t)c->t[i].out * c->t[i].in > largest)
            largest = (size_t)c->t[i].out * c->t[i].in;
    c->grad_copy = sparq_malloc(sizeof(float) * largest, "gradient scratch");
    if (!c->grad_copy || ft_chain_create(c, m)) {
        sparq_compressor_free(c);
        return SPARQ_ENOMEM;
    }
    *dst = c;
    return SPARQ_OK;
}

// N the GRADUAL schedule asks for at `step`: 4, then 2, then 1, never below
// the target, with equal phases over gradual_steps.
static int gradual_kept(const struct sparq_compressor *c, const struct ft_tensor *t, int64_t step)
{
    if (c->o.schedule != SPARQ_MASK_GRADUAL)
        return t->s.kept;
    int phases = t->s.kept == 4 ? 0 : t->s.kept == 2 ? 1 : 2;
    if (phases == 0 || c->o.gradual_steps <= 0)
        return t->s.kept;
    int64_t phase_len = c->o.gradual_steps / (phases + 1);
    int64_t phase = phase_len > 0 ? step / phase_len : phases;
    int kept = phase <= 0 ? 4 : phase == 1 ? (phases == 2 ? 2 : t->s.kept) : t->s.kept;
    return kept < t->s.kept ? t->s.kept : kept;
}

int ft_frozen(const struct sparq_compressor *c, int64_t step)
{
    return c->o.freeze_scales_at > 0 && step >= c->o.freeze_scales_at;
}

// Activation fake-quantization in the forward pass: the runtime's per-row int8
// rounding applied to the input of every compressed matmul, and with
// readout_q8 the device's int8 read-out of its output (finetune_readout.c).
// The model's linear hook points at the compressor's act_hook_ctx while it is on.
static int act_quant_linear(void *ctx, float *out, const float *inp, const float *w, const float *b, int N, int IN,
                            int OUT)
{
    const struct act_hook_ctx *a = ctx;
    struct ft_tensor *hit = NULL;
    for (int i = 0; i < a->c->n && !hit; i++)
        if (a->m->param_mem + a->m->tensors[a->c->t[i].index].offset == w && a->c->t[i].s.width > 0)
            hit = &a->c->t[i];
    if (!hit)
        return 0;
    struct sparq_compressor *cm = a->c;
    if (hit->chain >= 0 && cm->t[cm->chain[hit->chain].w1].index == hit->index)
        return ft_chain_w1(cm, hit, out, inp, b, N);
    if (hit->chain >= 0)
        return ft_chain_w2(cm, hit, out, inp, b, N);
    if (hit->codes)
        return ft_readout_linear(hit, out, inp, b, N);
    float *xq = malloc(sizeof(float) * (size_t)N * IN);
    if (!xq)
        return 0;
    for (int r = 0; r < N; r++) {
        const float *x = inp + (size_t)r * IN;
        sparq_fake_quant_act(xq + (size_t)r * IN, x, IN, sparq_act_row_scale(x, IN));
    }
    linear_forward(out, xq, w, b, N, IN, OUT); // plain float matmul on the quantized input
    free(xq);
    return 1;
}

int sparq_compressor_pre_forward(struct sparq_compressor *c, struct sparq_model *m, int64_t step)
{
    for (int i = 0; i < c->n; i++) {
        struct ft_tensor *t = &c->t[i];
        float *w = m->param_mem + m->tensors[t->index].offset;
        size_t n = (size_t)t->out * t->in;
        memcpy(t->master, w, sizeof(float) * n);
        int kept = gradual_kept(c, t, step);
        int remask = !c->masks_ready || kept != t->kept_now ||
                     (c->o.schedule == SPARQ_MASK_RECOMPUTE && c->o.mask_every > 0 && step % c->o.mask_every == 0);
        if (remask && !ft_frozen(c, step)) {
            t->kept_now = kept;
            if (kept < 4) {
                int rc = sparq_nm_mask(t->mask, t->master, t->out, t->in, kept);
                if (rc)
                    return rc;
            } else
                memset(t->mask, 1, n);
        }
        struct sparq_quantizer q = { t->s.width, t->s.grid };
        // Scales follow the weights (max-abs, MSE) until frozen; LSQ scales are
        // initialised once by MSE and then learned.
        // The MSE search costs 80 quantizations of the matrix, so it runs every
        // SCALE_EVERY steps (weights move little between); max-abs every step.
        int periodic = c->o.scale_method == SPARQ_SCALE_MAXABS || step % SCALE_EVERY == 0;
        int rescale = t->s.width > 0 && !ft_frozen(c, step) &&
                      (c->o.scale_method == SPARQ_SCALE_LSQ ? !c->masks_ready || remask
                                                            : !c->masks_ready || remask || periodic);
        if (rescale)
            sparq_quant_scales(t->scales, t->master, t->mask, t->out, t->in, &q,
                               c->o.scale_method == SPARQ_SCALE_MAXABS ? SPARQ_SCALE_MAXABS : SPARQ_SCALE_MSE);
        sparq_fake_quant_forward(w, t->master, t->mask, t->scales, t->out, t->in, &q);
        if (t->codes)
            ft_readout_pre_forward(t, w);
    }
    ft_chain_pre_forward(c);
    c->masks_ready = 1;
    c->step = step;
    if (c->o.act_quant || c->o.readout_q8) {
        c->act.c = c;
        c->act.m = m;
        m->hooks.linear = (struct sparq_linear_hook){ act_quant_linear, &c->act };
    }
    return SPARQ_OK;
}

void sparq_compressor_pre_step(struct sparq_compressor *c, struct sparq_model *m)
{
    if (c->o.act_quant || c->o.readout_q8)
        m->hooks.linear = (struct sparq_linear_hook){ NULL, NULL };
    const int lsq = c->o.scale_method == SPARQ_SCALE_LSQ;
    if (lsq)
        c->lsq_t++;
    for (int i = 0; i < c->n; i++) {
        struct ft_tensor *t = &c->t[i];
        float *w = m->param_mem + m->tensors[t->index].offset;
        float *g = m->grad_mem + m->tensors[t->index].offset;
        size_t n = (size_t)t->out * t->in;
        float *gq = c->grad_copy;
        memcpy(gq, g, sizeof(float) * n);
        memset(g, 0, sizeof(float) * n);
        struct sparq_quantizer q = { t->s.width, t->s.grid };
        if (lsq)
            memset(t->dscale, 0, sizeof(float) * (size_t)t->out);
        sparq_fake_quant_backward(g, lsq ? t->dscale : NULL, gq, t->master, t->mask, t->scales, t->out, t->in, &q,
                                  c->o.mask_grad, c->o.srste_lambda);
        memcpy(w, t->master, sizeof(float) * n); // the optimizer updates the master weights
        if (lsq && t->s.width > 0 && !ft_frozen(c, c->lsq_t)) {
            // Adam on the scales, kept positive.
            const float b1 = 0.9f, b2 = 0.999f, eps = 1e-12f;
            float c1 = 1.0f - powf(b1, (float)c->lsq_t), c2 = 1.0f - powf(b2, (float)c->lsq_t);
            for (int o = 0; o < t->out; o++) {
                float gs = t->dscale[o];
                t->sm[o] = b1 * t->sm[o] + (1 - b1) * gs;
                t->sv[o] = b2 * t->sv[o] + (1 - b2) * gs * gs;
                float step = c->o.lsq_lr * (t->sm[o] / c1) / (sqrtf(t->sv[o] / c2) + eps) * t->scales[o];
                float ns = t->scales[o] - step;
                t->scales[o] = ns > 1e-3f * t->scales[o] ? ns : 1e-3f * t->scales[o];
            }
        }
        ft_readout_post_step(c, i);
    }
    ft_chain_post_step(c);
}

void sparq_compressor_restore(struct sparq_compressor *c, struct sparq_model *m)
{
    if (c->o.act_quant || c->o.readout_q8)
        m->hooks.linear = (struct sparq_linear_hook){ NULL, NULL };
    for (int i = 0; i < c->n; i++)
        memcpy(m->param_mem + m->tensors[c->t[i].index].offset, c->t[i].master,
               sizeof(float) * (size_t)c->t[i].out * c->t[i].in);
}

void sparq_compressor_overrides(const struct sparq_compressor *c, struct sparq_export_overrides *ov)
{
    ov->masks = c->mask_ptrs;
    ov->scales = c->scale_ptrs;
    ov->readout_clips = c->clip_ptrs;
}

int sparq_compressor_save(const struct sparq_compressor *c, const char *path)
{
    struct sparq_mfile f;
    sparq_mfile_init(&f);
    int rc = sparq_mfile_add_text(&f, "kind", "sparq compressor state");
    char name[64];
    for (int i = 0; !rc && i < c->n; i++) {
        const struct ft_tensor *t = &c->t[i];
        size_t n = (size_t)t->out * t->in;
        int32_t *mask = malloc(sizeof(int32_t) * ((n + 31) / 32));
        if (!mask) {
            rc = SPARQ_ENOMEM;
            break;
        }
        memset(mask, 0, sizeof(int32_t) * ((n + 31) / 32));
        for (size_t k = 0; k < n; k++)
            if (t->mask[k])
                mask[k / 32] = (int32_t)((uint32_t)mask[k / 32] | 1u << (k % 32));
        int32_t meta[3] = { t->index, t->kept_now, (int32_t)n };
        snprintf(name, sizeof name, "t%d.meta", t->index);
        rc = sparq_mfile_add_i32(&f, name, meta, 3);
        snprintf(name, sizeof name, "t%d.mask", t->index);
        rc = rc ? rc : sparq_mfile_add_i32(&f, name, mask, (n + 31) / 32);
        snprintf(name, sizeof name, "t%d.scales", t->index);
        rc = rc ? rc : sparq_mfile_add_f32(&f, name, t->scales, (size_t)t->out);
        snprintf(name, sizeof name, "t%d.lsq_m", t->index);
        rc = rc ? rc : sparq_mfile_add_f32(&f, name, t->sm, (size_t)t->out);
        snprintf(name, sizeof name, "t%d.lsq_v", t->index);
        rc = rc ? rc : sparq_mfile_add_f32(&f, name, t->sv, (size_t)t->out);
        free(mask);
    }
    int32_t lsq_t[2] = { (int32_t)c->lsq_t, c->masks_ready };
    rc = rc ? rc : sparq_mfile_add_i32(&f, "lsq_t", lsq_t, 2);
    rc = rc ? rc : ft_readout_save(c, &f);
    rc = rc ? rc : ft_chain_save(c, &f);
    rc = rc ? rc : sparq_mfile_write(&f, path);
    sparq_mfile_free(&f);
    return rc;
}

int sparq_compressor_load(struct sparq_compressor *c, const char *path)
{
    struct sparq_mfile f;
    int rc = sparq_mfile_read(&f, path);
    if (rc)
        return rc;
    char name[64];
    for (int i = 0; !rc && i < c->n; i++) {
        struct ft_tensor *t = &c->t[i];
        size_t n = (size_t)t->out * t->in;
        snprintf(name, sizeof name, "t%d.meta", t->index);
        const struct sparq_mf_section *meta = sparq_mfile_find(&f, name, SPARQ_MF_I32);
        snprintf(name, sizeof name, "t%d.mask", t->index);
        const struct sparq_mf_section *mask = sparq_mfile_find(&f, name, SPARQ_MF_I32);
        if (!meta || meta->count != 3 || ((int32_t *)meta->data)[2] != (int32_t)n || !mask ||
            mask->count != (n + 31) / 32) {
            rc = sparq_fail(SPARQ_EFORMAT, "%s: compressor state for tensor %d is missing or has another shape",
                            path, t->index);
            break;
        }
        t->kept_now = ((int32_t *)meta->data)[1];
        for (size_t k = 0; k < n; k++)
            t->mask[k] = (uint8_t)(((uint32_t)((int32_t *)mask->data)[k / 32] >> (k % 32)) & 1u);
        const float *v;
        snprintf(name, sizeof name, "t%d.scales", t->index);
        if ((rc = sparq_mfile_get_f32(&f, path, name, (size_t)t->out, &v)))
            break;
        memcpy(t->scales, v, sizeof(float) * (size_t)t->out);
        snprintf(name, sizeof name, "t%d.lsq_m", t->index);
        if ((rc = sparq_mfile_get_f32(&f, path, name, (size_t)t->out, &v)))
            break;
        memcpy(t->sm, v, sizeof(float) * (size_t)t->out);
        snprintf(name, sizeof name, "t%d.lsq_v", t->index);
        if ((rc = sparq_mfile_get_f32(&f, path, name, (size_t)t->out, &v)))
            break;
        memcpy(t->sv, v, sizeof(float) * (size_t)t->out);
    }
    const struct sparq_mf_section *lt = sparq_mfile_find(&f, "lsq_t", SPARQ_MF_I32);
    if (!rc && (!lt || lt->count != 2))
        rc = sparq_fail(SPARQ_EFORMAT, "%s: missing section 'lsq_t'", path);
    if (!rc) {
        c->lsq_t = ((int32_t *)lt->data)[0];
        c->masks_ready = ((int32_t *)lt->data)[1];
        rc = ft_readout_load(c, &f);
        rc = rc ? rc : ft_chain_load(c, &f);
        if (rc)
            rc = sparq_fail(rc, "%s: %s", path, sparq_last_error());
    }
    sparq_mfile_free(&f);
    return rc;
}
