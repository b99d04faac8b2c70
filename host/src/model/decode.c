// CTC decoding: greedy and prefix beam search (no language model).
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sparq_ctc.h"
#include "sparq_text.h"

static int put_char(char *out, size_t cap, int n, int sym)
{
    int ch = sparq_vocab_char(sym);
    if (ch && (size_t)n + 1 < cap)
        out[n++] = (char)ch;
    return n;
}

int sparq_ctc_greedy(const float *logits, int T, int V, char *out, size_t cap)
{
    int n = 0, prev = 0;
    for (int t = 0; t < T; t++) {
        const float *x = logits + (size_t)t * V;
        int best = 0;
        for (int k = 1; k < V; k++)
            if (x[k] > x[best])
                best = k;
        if (best != 0 && best != prev)
            n = put_char(out, cap, n, best);
        prev = best;
    }
    if (cap)
        out[n] = 0;
    return n;
}

static inline double lse(double a, double b)
{
    if (a == -INFINITY)
        return b;
    if (b == -INFINITY)
        return a;
    return a > b ? a + log1p(exp(b - a)) : b + log1p(exp(a - b));
}

struct cand {
    uint64_t hash;
    int parent; // index into the previous beam
    int sym;    // appended symbol, or -1 if the prefix is the parent's
    double pb, pnb;
};

// Finds or adds the candidate (hash); the hash identifies the label sequence.
static struct cand *cand_get(struct cand *c, int *n, uint64_t hash, int parent, int sym)
{
    for (int i = 0; i < *n; i++)
        if (c[i].hash == hash)
            return &c[i];
    struct cand *x = &c[(*n)++];
    x->hash = hash;
    x->parent = parent;
    x->sym = sym;
    x->pb = x->pnb = -INFINITY;
    return x;
}

static int cand_cmp(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    double px = lse(x->pb, x->pnb), py = lse(y->pb, y->pnb);
    if (px != py)
        return px > py ? -1 : 1;
    return x->hash < y->hash ? -1 : x->hash > y->hash; // deterministic ties
}

int sparq_ctc_beam(const float *logits, int T, int V, int beam, char *out, size_t cap)
{
    if (beam < 1)
        beam = 1;
    int maxlen = T + 1;
    // Beam state: sequences (beam, maxlen), their lengths, hashes, pb, pnb.
    int *seq = calloc((size_t)beam * maxlen, sizeof(int)), *nseq = calloc((size_t)beam * maxlen, sizeof(int));
    int *len = calloc((size_t)beam, sizeof(int)), *nlen = calloc((size_t)beam, sizeof(int));
    struct cand *bm = calloc((size_t)beam, sizeof *bm);
    struct cand *cs = calloc((size_t)beam * (V + 1), sizeof *cs);
    double *lp = malloc(sizeof(double) * (size_t)V);
    int nb = 1;
    bm[0].hash = 1469598103934665603ull;
    bm[0].pb = 0.0;
    bm[0].pnb = -INFINITY;
    for (int t = 0; t < T; t++) {
        const float *x = logits + (size_t)t * V;
        double mx = x[0], s = 0.0;
        for (int k = 1; k < V; k++)
            mx = x[k] > mx ? x[k] : mx;
        for (int k = 0; k < V; k++)
            s += exp(x[k] - mx);
        for (int k = 0; k < V; k++)
            lp[k] = x[k] - mx - log(s);
        int nc = 0;
        for (int i = 0; i < nb; i++) {
            const struct cand *p = &bm[i];
            double ptot = lse(p->pb, p->pnb);
            int last = len[i] ? seq[(size_t)i * maxlen + len[i] - 1] : -1;
            struct cand *same = cand_get(cs, &nc, p->hash, i, -1);
            same->pb = lse(same->pb, ptot + lp[0]);
            for (int k = 1; k < V; k++) {
                if (k == last) {
                    same->pnb = lse(same->pnb, p->pnb + lp[k]);
                    if (p->pb != -INFINITY) {
                        struct cand *e = cand_get(cs, &nc, (p->hash ^ (uint64_t)k) * 1099511628211ull, i, k);
                        e->pnb = lse(e->pnb, p->pb + lp[k]);
                    }
                } else {
                    struct cand *e = cand_get(cs, &nc, (p->hash ^ (uint64_t)k) * 1099511628211ull, i, k);
                    e->pnb = lse(e->pnb, ptot + lp[k]);
                }
            }
        }
        qsort(cs, (size_t)nc, sizeof *cs, cand_cmp);
        int keep = nc < beam ? nc : beam;
        for (int i = 0; i < keep; i++) {
            const struct cand *c = &cs[i];
            int pl = len[c->parent];
            memcpy(nseq + (size_t)i * maxlen, seq + (size_t)c->parent * maxlen, sizeof(int) * (size_t)pl);
            nlen[i] = pl;
            if (c->sym >= 0)
                nseq[(size_t)i * maxlen + nlen[i]++] = c->sym;
            bm[i] = *c;
        }
        nb = keep;
        int *tp = seq;
        seq = nseq;
        nseq = tp;
        tp = len;
        len = nlen;
        nlen = tp;
    }
    int n = 0;
    for (int j = 0; j < len[0]; j++)
        n = put_char(out, cap, n, seq[j]);
    if (cap)
        out[n] = 0;
    free(seq);
    free(nseq);
    free(len);
    free(nlen);
    free(bm);
    free(cs);
    free(lp);
    return n;
}
