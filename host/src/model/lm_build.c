// Word n-gram estimation: counts from normalised text, then interpolated
// modified Kneser-Ney (Chen & Goodman 1998) into ARPA-style probabilities
// and backoff weights.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sparq_error.h"
#include "sparq_lm.h"
#include "sparq_text.h"
#include "lm_internal.h"

// ---- estimation (interpolated modified Kneser-Ney) ----

static double discount(const double D[3], long c)
{
    return c <= 0 ? 0.0 : D[c >= 3 ? 2 : c - 1];
}

// Discounts D1, D2, D3+ from the counts of counts (Chen & Goodman); data too
// small to estimate them (a zero count of counts or a discount outside
// (0, k]) falls back to 0.5, 1, 1.5.
static void kn_discounts(const struct table *t, int skip1, int skip2, double D[3])
{
    double nc[5] = { 0 };
    for (size_t i = 0; i < t->n; i++) {
        long a = t->g[i].adj;
        if (t->g[i].w[0] == skip1 || t->g[i].w[0] == skip2)
            continue;
        if (a >= 1 && a <= 4)
            nc[a]++;
    }
    int ok = nc[1] > 0 && nc[2] > 0 && nc[3] > 0 && nc[4] > 0;
    if (ok) {
        double Y = nc[1] / (nc[1] + 2 * nc[2]);
        for (int k = 1; k <= 3; k++) {
            D[k - 1] = k - (k + 1) * Y * nc[k + 1] / nc[k];
            ok = ok && D[k - 1] > 0 && D[k - 1] <= k;
        }
    }
    if (!ok) {
        D[0] = 0.5;
        D[1] = 1.0;
        D[2] = 1.5;
    }
}

static int kn_estimate(struct sparq_lm *lm)
{
    int N = lm->order;
    // Adjusted counts: raw at the top order and for n-grams starting with <s>,
    // otherwise the number of distinct words seen to their left.
    for (int n = N; n >= 2; n--) {
        struct table *t = &lm->t[n - 1];
        for (size_t i = 0; i < t->n; i++) {
            struct gram *suf = lm_table_find(&lm->t[n - 2], t->g[i].w + 1, n - 1);
            if (suf)
                suf->lefts++;
        }
    }
    for (int n = 1; n <= N; n++) {
        struct table *t = &lm->t[n - 1];
        for (size_t i = 0; i < t->n; i++) {
            struct gram *g = &t->g[i];
            g->adj = n == N || g->w[0] == lm->bos ? g->count : g->lefts;
        }
    }
    // History statistics: for unigrams the empty history (kept here).
    long usum = 0, un[3] = { 0 };
    for (int n = 1; n <= N; n++) {
        struct table *t = &lm->t[n - 1];
        for (size_t i = 0; i < t->n; i++) {
            struct gram *g = &t->g[i];
            if (g->adj <= 0)
                continue;
            long *sum = &usum, *hn = un;
            if (n > 1) {
                struct gram *h = lm_table_find(&lm->t[n - 2], g->w, n - 1);
                if (!h)
                    return sparq_fail(SPARQ_EINVAL, "language model: history of an n-gram missing");
                sum = &h->hsum;
                hn = h->hn;
            }
            *sum += g->adj;
            hn[g->adj >= 3 ? 2 : g->adj - 1]++;
        }
    }
    if (usum <= 0)
        return sparq_fail(SPARQ_EINVAL, "language model: the text has no words");
    size_t V = lm->nwords - 1; // every word but <s> can be predicted (includes <unk>)
    for (int n = 1; n <= N; n++) {
        struct table *t = &lm->t[n - 1];
        double D[3];
        kn_discounts(t, n == 1 ? lm->bos : -2, n == 1 ? lm->unk : -2, D);
        for (size_t i = 0; i < t->n; i++) {
            struct gram *g = &t->g[i];
            if (n == 1 && g->w[0] == lm->bos) {
                g->logp = -99.0; // never predicted
                continue;
            }
            double p;
            if (n == 1) {
                double gamma = (D[0] * un[0] + D[1] * un[1] + D[2] * un[2]) / usum;
                p = fmax(g->adj - discount(D, g->adj), 0.0) / usum + gamma / (double)V;
            } else {
                const struct gram *h = lm_table_find(&lm->t[n - 2], g->w, n - 1);
                const struct gram *lo = lm_table_find(&lm->t[n - 2], g->w + 1, n - 1);
                if (!lo || !h || h->hsum <= 0)
                    return sparq_fail(SPARQ_EINVAL, "language model: suffix of an n-gram missing");
                double gamma = (D[0] * h->hn[0] + D[1] * h->hn[1] + D[2] * h->hn[2]) / h->hsum;
                p = fmax(g->adj - discount(D, g->adj), 0.0) / h->hsum + gamma * pow(10.0, lo->logp);
            }
            g->logp = log10(p);
        }
        // Backoff weights of the histories of the next order.
        if (n < N) {
            double Dn[3];
            kn_discounts(&lm->t[n], -2, -2, Dn);
            for (size_t i = 0; i < t->n; i++) {
                struct gram *g = &t->g[i];
                if (g->hsum > 0)
                    g->bo = log10((Dn[0] * g->hn[0] + Dn[1] * g->hn[1] + Dn[2] * g->hn[2]) / g->hsum);
            }
        }
    }
    return SPARQ_OK;
}

static int count_sentence(struct sparq_lm *lm, const char *norm)
{
    int ids[4096 + 2];
    int n = 0;
    ids[n++] = lm->bos;
    for (const char *p = norm; *p;) {
        while (*p == ' ')
            p++;
        const char *s = p;
        while (*p && *p != ' ')
            p++;
        if (p == s)
            break;
        if (n > 4096)
            return sparq_fail(SPARQ_EINVAL, "language model: a sentence has more than 4096 words");
        int id = lm_vocab_add(lm, s, (size_t)(p - s));
        if (id < 0)
            return id;
        ids[n++] = id;
    }
    if (n == 1)
        return SPARQ_OK; // empty line
    ids[n++] = lm->eos;
    for (int i = 1; i < n; i++)
        for (int k = 1; k <= lm->order && i - k + 1 >= 0; k++) {
            int added;
            struct gram *g = lm_table_add(&lm->t[k - 1], ids + i - k + 1, k, &added);
            if (!g)
                return SPARQ_ENOMEM;
            g->count++;
        }
    return SPARQ_OK;
}

static int count_one(void *lm, const char *sentence) { return count_sentence(lm, sentence); }

static int count_text(struct sparq_lm *lm, const char *text) { return lm_each_sentence(text, count_one, lm); }

static int lm_begin(struct sparq_lm **out, int order)
{
    *out = NULL;
    if (order < 1 || order > MAXN)
        return sparq_fail(SPARQ_EINVAL, "language model order %d is outside 1..%d", order, MAXN);
    struct sparq_lm *lm = lm_new(order);
    if (!lm)
        return SPARQ_ENOMEM;
    int added;
    if ((lm->bos = lm_vocab_add(lm, "<s>", 3)) < 0 || (lm->eos = lm_vocab_add(lm, "</s>", 4)) < 0 ||
        (lm->unk = lm_vocab_add(lm, "<unk>", 5)) < 0 || !lm_table_add(&lm->t[0], &lm->bos, 1, &added) ||
        !lm_table_add(&lm->t[0], &lm->unk, 1, &added)) {
        sparq_lm_free(lm);
        return SPARQ_ENOMEM;
    }
    *out = lm;
    return SPARQ_OK;
}

int sparq_lm_build_text(struct sparq_lm **out, const char *text, int order)
{
    struct sparq_lm *lm;
    int rc = lm_begin(&lm, order);
    if (rc)
        return rc;
    if ((rc = count_text(lm, text)) || (rc = kn_estimate(lm))) {
        sparq_lm_free(lm);
        return rc;
    }
    *out = lm;
    return SPARQ_OK;
}

int sparq_lm_build_files(struct sparq_lm **out, const char *const *paths, int npaths, int order)
{
    struct sparq_lm *lm;
    int rc = lm_begin(&lm, order);
    for (int i = 0; rc == SPARQ_OK && i < npaths; i++) {
        char *text;
        size_t len;
        if ((rc = lm_read_file(paths[i], &text, &len)) == SPARQ_OK) {
            rc = count_text(lm, text);
            if (rc)
                rc = sparq_fail(rc, "%s: %s", paths[i], sparq_last_error());
            free(text);
        }
    }
    if (rc == SPARQ_OK && (rc = kn_estimate(lm)))
        rc = sparq_fail(rc, "%s", sparq_last_error());
    if (rc) {
        sparq_lm_free(lm);
        return rc;
    }
    *out = lm;
    return SPARQ_OK;
}
