// CTC loss and gradient by the forward-backward algorithm in log space (double).
#include "sparq_ctc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sparq_text.h"

static inline double lse2(double a, double b)
{
    if (a == -INFINITY)
        return b;
    if (b == -INFINITY)
        return a;
    return a > b ? a + log1p(exp(b - a)) : b + log1p(exp(a - b));
}

double sparq_ctc_loss(const float *logits, int T, int V, const int *labels, int L, float scale, float *dlogits)
{
    if (dlogits)
        memset(dlogits, 0, sizeof(float) * (size_t)T * V);
    int S = 2 * L + 1;
    // Minimum frames: one per label plus one blank between each repeated pair.
    int need = L;
    for (int i = 1; i < L; i++)
        need += labels[i] == labels[i - 1];
    if (T < need || T <= 0)
        return INFINITY;
    double *lp = malloc(sizeof(double) * (size_t)T * V);
    double *alpha = malloc(sizeof(double) * (size_t)T * S);
    double *beta = malloc(sizeof(double) * (size_t)T * S);
    int *ext = malloc(sizeof(int) * (size_t)S);
    for (int s = 0; s < S; s++)
        ext[s] = s & 1 ? labels[s / 2] : 0;
    for (int t = 0; t < T; t++) {
        const float *x = logits + (size_t)t * V;
        double mx = x[0];
        for (int k = 1; k < V; k++)
            mx = x[k] > mx ? x[k] : mx;
        double sum = 0.0;
        for (int k = 0; k < V; k++)
            sum += exp(x[k] - mx);
        double lz = mx + log(sum);
        for (int k = 0; k < V; k++)
            lp[(size_t)t * V + k] = x[k] - lz;
    }
    for (size_t i = 0; i < (size_t)T * S; i++)
        alpha[i] = beta[i] = -INFINITY;
    alpha[0] = lp[ext[0]];
    if (S > 1)
        alpha[1] = lp[ext[1]];
    for (int t = 1; t < T; t++) {
        const double *ap = alpha + (size_t)(t - 1) * S;
        double *a = alpha + (size_t)t * S;
        for (int s = 0; s < S; s++) {
            double v = ap[s];
            if (s >= 1)
                v = lse2(v, ap[s - 1]);
            if (s >= 2 && (s & 1) && ext[s] != ext[s - 2])
                v = lse2(v, ap[s - 2]);
            a[s] = v == -INFINITY ? v : v + lp[(size_t)t * V + ext[s]];
        }
    }
    double *bl = beta + (size_t)(T - 1) * S;
    bl[S - 1] = lp[(size_t)(T - 1) * V + ext[S - 1]];
    if (S > 1)
        bl[S - 2] = lp[(size_t)(T - 1) * V + ext[S - 2]];
    for (int t = T - 2; t >= 0; t--) {
        const double *bn = beta + (size_t)(t + 1) * S;
        double *b = beta + (size_t)t * S;
        for (int s = 0; s < S; s++) {
            double v = bn[s];
            if (s + 1 < S)
                v = lse2(v, bn[s + 1]);
            if (s + 2 < S && (s & 1) && ext[s] != ext[s + 2])
                v = lse2(v, bn[s + 2]);
            b[s] = v == -INFINITY ? v : v + lp[(size_t)t * V + ext[s]];
        }
    }
    const double *al = alpha + (size_t)(T - 1) * S;
    double logp = S > 1 ? lse2(al[S - 1], al[S - 2]) : al[S - 1];
    double loss = -logp;
    if (!isfinite(loss)) {
        loss = INFINITY;
    } else if (dlogits) {
        double *occ = malloc(sizeof(double) * (size_t)V);
        for (int t = 0; t < T; t++) {
            for (int k = 0; k < V; k++)
                occ[k] = -INFINITY;
            const double *a = alpha + (size_t)t * S, *b = beta + (size_t)t * S;
            const double *l = lp + (size_t)t * V;
            for (int s = 0; s < S; s++)
                if (a[s] != -INFINITY && b[s] != -INFINITY)
                    occ[ext[s]] = lse2(occ[ext[s]], a[s] + b[s] - l[ext[s]]);
            float *g = dlogits + (size_t)t * V;
            for (int k = 0; k < V; k++) {
                double post = occ[k] == -INFINITY ? 0.0 : exp(occ[k] - logp);
                g[k] = (float)(scale * (exp(l[k]) - post));
            }
        }
        free(occ);
    }
    free(lp);
    free(alpha);
    free(beta);
    free(ext);
    return loss;
}

double sparq_ctc_batch(const float *logits, const int *out_lens, int B, int Tmax, int V, const int *targets,
                       const int *target_lens, float *dlogits, double *losses)
{
    size_t *off = malloc(sizeof(size_t) * (size_t)(B + 1));
    double *per = malloc(sizeof(double) * (size_t)B);
    off[0] = 0;
    for (int b = 0; b < B; b++)
        off[b + 1] = off[b] + (size_t)target_lens[b];
#pragma omp parallel for schedule(dynamic)
    for (int b = 0; b < B; b++) {
        int T = out_lens[b], L = target_lens[b];
        float scale = 1.0f / (float)((L > 0 ? L : 1) * B);
        const float *x = logits + (size_t)b * Tmax * V;
        float *g = dlogits ? dlogits + (size_t)b * Tmax * V : NULL;
        per[b] = sparq_ctc_loss(x, T, V, targets + off[b], L, scale, g);
        if (g)
            memset(g + (size_t)T * V, 0, sizeof(float) * (size_t)(Tmax - T) * V);
    }
    double total = 0.0;
    for (int b = 0; b < B; b++) {
        if (losses)
            losses[b] = per[b];
        if (isfinite(per[b]))
            total += per[b] / (target_lens[b] > 0 ? target_lens[b] : 1);
    }
    free(off);
    free(per);
    return total / B;
}

int sparq_text_to_labels(const char *text, int *labels, int cap)
{
    int n = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p && n < cap; p++) {
        int id = sparq_vocab_index(*p);
        if (id > 0)
            labels[n++] = id;
    }
    return n;
}
