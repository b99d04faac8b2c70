// AdamW, gradient clipping and the learning-rate schedule.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sparq_error.h"
#include "sparq_train.h"

int sparq_adamw_init(struct sparq_adamw *o, const struct sparq_model *m, float beta1, float beta2, float eps,
                     float weight_decay)
{
    memset(o, 0, sizeof *o);
    o->beta1 = beta1;
    o->beta2 = beta2;
    o->eps = eps;
    o->weight_decay = weight_decay;
    o->m = sparq_calloc(m->n_params, sizeof(float), "AdamW first moments");
    o->v = sparq_calloc(m->n_params, sizeof(float), "AdamW second moments");
    if (!o->m || !o->v) {
        sparq_adamw_free(o);
        return SPARQ_ENOMEM;
    }
    return SPARQ_OK;
}

void sparq_adamw_free(struct sparq_adamw *o)
{
    free(o->m);
    free(o->v);
    o->m = o->v = NULL;
}

void sparq_adamw_step(struct sparq_adamw *o, struct sparq_model *m, float lr)
{
    o->t++;
    // torch computes the bias corrections in double and the update in float.
    double bc1 = 1.0 - pow(o->beta1, (double)o->t), bc2 = 1.0 - pow(o->beta2, (double)o->t);
    float step_size = (float)(lr / bc1);
    float bc2_sqrt = (float)sqrt(bc2);
    for (int ti = 0; ti < m->n_tensors; ti++) {
        const struct sparq_tensor_info *t = &m->tensors[ti];
        float decay = t->init == SPARQ_INIT_W ? 1.0f - lr * o->weight_decay : 1.0f;
        float *p = m->param_mem + t->offset, *g = m->grad_mem + t->offset;
        float *mm = o->m + t->offset, *vv = o->v + t->offset;
        size_t n = t->size;
#pragma omp parallel for if (n > 65536)
        for (size_t i = 0; i < n; i++) {
            p[i] *= decay;
            mm[i] = o->beta1 * mm[i] + (1.0f - o->beta1) * g[i];
            vv[i] = o->beta2 * vv[i] + (1.0f - o->beta2) * g[i] * g[i];
            float denom = sqrtf(vv[i]) / bc2_sqrt + o->eps;
            p[i] -= step_size * mm[i] / denom;
        }
    }
}

double sparq_clip_grad_norm(struct sparq_model *m, double max_norm)
{
    double s = 0.0;
    for (size_t i = 0; i < m->n_params; i++)
        s += (double)m->grad_mem[i] * m->grad_mem[i];
    double norm = sqrt(s);
    if (max_norm > 0 && norm > max_norm) {
        float c = (float)(max_norm / (norm + 1e-6));
        for (size_t i = 0; i < m->n_params; i++)
            m->grad_mem[i] *= c;
    }
    return norm;
}

float sparq_lr_at(int64_t step, float peak, int64_t warmup, int64_t total, float final_ratio)
{
    if (warmup > 0 && step < warmup)
        return peak * (float)(step + 1) / (float)warmup;
    if (step >= total || total <= warmup)
        return peak * final_ratio;
    double prog = (double)(step - warmup) / (double)(total - warmup);
    double cosv = 0.5 * (1.0 + cos(M_PI * prog));
    return (float)(peak * (final_ratio + (1.0 - final_ratio) * cosv));
}
