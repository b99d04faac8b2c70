// Distillation from a float teacher's CTC posteriors (sparq_finetune.h).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sparq_error.h"
#include "sparq_finetune.h"
#include "sparq_train.h"

struct sparq_teacher {
    struct sparq_model m;
    struct sparq_acts *acts;
};

int sparq_teacher_open(struct sparq_teacher **dst, const char *path, const struct sparq_model *student)
{
    *dst = NULL;
    struct sparq_teacher *t = sparq_calloc(1, sizeof *t, "teacher");
    if (!t)
        return SPARQ_ENOMEM;
    int rc = sparq_checkpoint_load(path, &t->m, NULL, NULL);
    if (rc) {
        free(t);
        return rc;
    }
    if (student && (t->m.cfg.vocab != student->cfg.vocab || t->m.cfg.n_mels != student->cfg.n_mels)) {
        sparq_model_free(&t->m);
        free(t);
        return sparq_fail(SPARQ_EINVAL, "teacher %s: vocabulary/feature size differ from the student's", path);
    }
    t->acts = sparq_acts_create_eval(&t->m.cfg, 1, 64); // the teacher only decodes
    if (!t->acts) {
        sparq_model_free(&t->m);
        free(t);
        return sparq_fail(SPARQ_ENOMEM, "out of memory for the teacher's activations");
    }
    *dst = t;
    return SPARQ_OK;
}

void sparq_teacher_free(struct sparq_teacher *t)
{
    if (!t)
        return;
    sparq_acts_free(t->acts);
    sparq_model_free(&t->m);
    free(t);
}

// Softmax of one frame of logits into p; returns log-sum-exp.
static double softmax_row(const float *z, int V, float *p)
{
    float mx = z[0];
    for (int v = 1; v < V; v++)
        mx = z[v] > mx ? z[v] : mx;
    double s = 0;
    for (int v = 0; v < V; v++)
        s += exp((double)(z[v] - mx));
    double lse = (double)mx + log(s);
    if (p)
        for (int v = 0; v < V; v++)
            p[v] = (float)exp((double)z[v] - lse);
    return lse;
}

int sparq_teacher_distill(struct sparq_teacher *t, const float *feats, const int *lens, int B, int T,
                          const float *logits, const int *out_lens, int T2, int V, float weight, float *dlogits,
                          double *loss)
{
    // Eval mode: the teacher's BatchNorm uses its running statistics.
    int T2t = sparq_forward(&t->m, t->acts, feats, lens, B, T, 0);
    if (T2t < 0)
        return T2t;
    if (T2t != T2)
        return sparq_fail(SPARQ_EINVAL, "teacher produced %d output frames, student %d", T2t, T2);
    const float *tl = sparq_acts_logits(t->acts);
    const int *tol = sparq_acts_out_lens(t->acts);
    double kd = 0;
    float *pt = malloc(sizeof(float) * (size_t)V * 2);
    if (!pt)
        return sparq_fail(SPARQ_ENOMEM, "out of memory for distillation");
    float *ps = pt + V;
    for (int b = 0; b < B; b++) {
        int n = out_lens[b] < tol[b] ? out_lens[b] : tol[b];
        if (n <= 0)
            continue;
        double kd_b = 0;
        for (int f = 0; f < n; f++) {
            size_t off = ((size_t)b * T2 + f) * V;
            double lse_t = softmax_row(tl + off, V, pt);
            double lse_s = softmax_row(logits + off, V, ps);
            // KL(p_t || p_s) = sum p_t (log p_t - log p_s); d/dz_s = p_s - p_t.
            for (int v = 0; v < V; v++)
                if (pt[v] > 0)
                    kd_b += (double)pt[v] * (((double)tl[off + v] - lse_t) - ((double)logits[off + v] - lse_s));
            float g = weight / ((float)B * (float)n);
            for (int v = 0; v < V; v++)
                dlogits[off + v] += g * (ps[v] - pt[v]);
        }
        kd += kd_b / n;
    }
    free(pt);
    *loss += weight * kd / (B > 0 ? B : 1);
    return SPARQ_OK;
}
