// CTC decoding: greedy and prefix beam search with optional word n-gram LM fusion.
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sparq_ctc.h"
#include "sparq_error.h"
#include "sparq_lm.h"
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

static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

// Hash of a prefix extended by one symbol; equal label sequences get equal
// hashes, different ones collide with probability ~2^-64 per pair.
static inline uint64_t extend_hash(uint64_t h, int sym)
{
    return mix64(h ^ ((uint64_t)(sym + 1) * 0x9e3779b97f4a7c15ull));
}

#define LN10 2.302585092994046
#define WORD_MAX 64 // longer partial words are scored as <unk>
#define HIST_MAX (SPARQ_LM_MAX_ORDER - 1)

// A prefix is a node of a trie of symbols: shared by the prefixes extending
// it, collected when no beam prefix descends from it any more.
struct node {
    uint64_t hash;
    int parent, sym; // root: -1, -1
    int wlen;        // symbols since the last space: the partial word
    int nhist;       // LM history: the last completed words (ids, oldest first)
    int hist[HIST_MAX];
    double fuse; // alpha * ln P_lm + beta * count, over the completed words
};

struct entry {
    int node;
    double pb, pnb; // ln P(prefix, path ends in blank / in its last symbol)
};

struct cand {
    int node; // its trie node, or -1 if new (then nd holds the contents)
    int slot; // where the hash table points at it
    struct node nd;
    double pb, pnb, score;
};

struct search {
    const struct sparq_ctc_beam_options *o;
    int space; // symbol of the word separator
    struct node *nodes;
    int32_t *map; // scratch for collection, same size as nodes
    int nn, ncap;
    struct cand *cs;
    int32_t *slot;
    size_t nslot;
    int nc;
};

// Scores the word formed by the last wlen symbols of node pi into c (a copy of
// that node moving past the word): beta, plus alpha * ln P_lm(word | history).
static void complete_word(const struct search *s, int pi, struct node *c)
{
    const struct node *p = &s->nodes[pi];
    const struct sparq_lm *lm = s->o->lm;
    c->fuse += s->o->beta;
    if (!lm)
        return;
    int id = sparq_lm_unk(lm);
    if (p->wlen < WORD_MAX) {
        char w[WORD_MAX];
        int k = p->wlen;
        for (int i = pi; k > 0; i = s->nodes[i].parent)
            w[--k] = (char)sparq_vocab_char(s->nodes[i].sym);
        id = sparq_lm_word(lm, w, (size_t)p->wlen);
    }
    c->fuse += s->o->alpha * LN10 * sparq_lm_logp(lm, c->hist, c->nhist, id);
    if (c->nhist == HIST_MAX) {
        memmove(c->hist, c->hist + 1, sizeof(int) * (HIST_MAX - 1));
        c->nhist--;
    }
    c->hist[c->nhist++] = id;
}

static void make_child(const struct search *s, int pi, int sym, struct node *c)
{
    const struct node *p = &s->nodes[pi];
    *c = *p;
    c->hash = extend_hash(p->hash, sym);
    c->parent = pi;
    c->sym = sym;
    c->wlen = sym == s->space ? 0 : p->wlen + 1;
    if (sym == s->space && p->wlen > 0)
        complete_word(s, pi, c);
}

// The candidate for prefix `hash` this frame: node `ni` itself (sym < 0) or
// node ni extended by sym; created on first sight.
static struct cand *cand_get(struct search *s, uint64_t hash, int ni, int sym)
{
    size_t j = hash & (s->nslot - 1);
    for (; s->slot[j] >= 0; j = (j + 1) & (s->nslot - 1)) {
        struct cand *c = &s->cs[s->slot[j]];
        if (c->nd.hash == hash) {
            if (sym < 0 && c->node < 0)
                c->node = ni; // the extension of another prefix is this existing node
            return c;
        }
    }
    struct cand *c = &s->cs[s->nc];
    s->slot[j] = s->nc++;
    c->slot = (int)j;
    c->pb = c->pnb = -INFINITY;
    if (sym < 0) {
        c->node = ni;
        c->nd = s->nodes[ni];
    } else {
        c->node = -1;
        make_child(s, ni, sym, &c->nd);
    }
    return c;
}

static int cand_cmp(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->nd.hash < y->nd.hash ? -1 : x->nd.hash > y->nd.hash; // deterministic ties
}

// Moves the k best candidates to a[0..k) (in no order): Hoare quickselect,
// so a frame costs O(candidates) rather than a full sort.
static void select_best(struct cand *a, int n, int k)
{
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        struct cand pivot = a[lo + (hi - lo) / 2], tmp;
        int i = lo, j = hi;
        while (i <= j) {
            while (cand_cmp(&a[i], &pivot) < 0)
                i++;
            while (cand_cmp(&a[j], &pivot) > 0)
                j--;
            if (i <= j) {
                tmp = a[i];
                a[i++] = a[j];
                a[j--] = tmp;
            }
        }
        if (k - 1 <= j)
            hi = j;
        else if (k - 1 >= i)
            lo = i;
        else
            break;
    }
}

// Drops the nodes no beam prefix descends from; parents precede children, so
// one forward pass renumbers. Grows the store when it stays over half full.
static int collect(struct search *s, struct entry *ent, int nb, int beam)
{
    for (int i = 0; i < s->nn; i++)
        s->map[i] = -1;
    for (int e = 0; e < nb; e++)
        for (int i = ent[e].node; i >= 0 && s->map[i] < 0; i = s->nodes[i].parent)
            s->map[i] = 1;
    int k = 0;
    for (int i = 0; i < s->nn; i++)
        if (s->map[i] >= 0) {
            s->nodes[k] = s->nodes[i];
            if (s->nodes[k].parent >= 0)
                s->nodes[k].parent = s->map[s->nodes[k].parent];
            s->map[i] = k++;
        }
    s->nn = k;
    for (int e = 0; e < nb; e++)
        ent[e].node = s->map[ent[e].node];
    if (k + beam > s->ncap / 2) {
        if (s->ncap > INT32_MAX / 4)
            return sparq_fail(SPARQ_ENOMEM, "beam search: too many prefixes");
        int ncap = 2 * s->ncap;
        struct node *nodes = realloc(s->nodes, sizeof *nodes * (size_t)ncap);
        if (nodes)
            s->nodes = nodes;
        int32_t *map = nodes ? realloc(s->map, sizeof *map * (size_t)ncap) : NULL;
        if (!map)
            return sparq_fail(SPARQ_ENOMEM, "beam search: out of memory for %d prefixes", ncap);
        s->map = map;
        s->ncap = ncap;
    }
    return SPARQ_OK;
}

// Score of a final prefix: its last partial word and </s> are scored too.
static double final_score(const struct search *s, const struct entry *e)
{
    struct node c = s->nodes[e->node];
    if (c.wlen > 0)
        complete_word(s, e->node, &c);
    double f = c.fuse;
    if (s->o->lm)
        f += s->o->alpha * LN10 * sparq_lm_logp(s->o->lm, c.hist, c.nhist, sparq_lm_eos(s->o->lm));
    return lse(e->pb, e->pnb) + f;
}

void sparq_ctc_beam_options_default(struct sparq_ctc_beam_options *o)
{
    o->beam = 16;
    o->lm = NULL;
    o->alpha = 0.5;
    o->beta = 1.0;
}

int sparq_ctc_beam_ex(const float *logits, int T, int V, const struct sparq_ctc_beam_options *o, char *out,
                      size_t cap)
{
    if (cap)
        out[0] = 0;
    if (!o || T < 0 || V < 2 || (T > 0 && !logits))
        return sparq_fail(SPARQ_EINVAL, "beam search: bad arguments (T %d, V %d)", T, V);
    if (!isfinite(o->alpha) || !isfinite(o->beta))
        return sparq_fail(SPARQ_EINVAL, "beam search: LM weight and word bonus must be finite");
    int beam = o->beam < 1 ? 1 : o->beam > SPARQ_CTC_MAX_BEAM ? SPARQ_CTC_MAX_BEAM : o->beam;
    struct search s = { .o = o, .space = sparq_vocab_index(' ') };
    size_t maxc = (size_t)beam * (size_t)V; // per prefix: itself and V-1 extensions
    s.nslot = 64;
    while (s.nslot < 2 * maxc)
        s.nslot *= 2;
    s.ncap = 4 * beam + 64;
    struct entry *ent = sparq_malloc(sizeof *ent * (size_t)beam, "beam prefixes");
    double *lp = sparq_malloc(sizeof *lp * (size_t)V, "beam log-probabilities");
    s.cs = sparq_malloc(sizeof *s.cs * maxc, "beam candidates");
    s.slot = sparq_malloc(sizeof *s.slot * s.nslot, "beam hash table");
    s.nodes = sparq_malloc(sizeof *s.nodes * (size_t)s.ncap, "beam prefix trie");
    s.map = sparq_malloc(sizeof *s.map * (size_t)s.ncap, "beam prefix trie");
    int *syms = NULL;
    int rc = ent && lp && s.cs && s.slot && s.nodes && s.map ? SPARQ_OK : SPARQ_ENOMEM;
    int nb = 1;
    if (rc == SPARQ_OK) {
        memset(s.slot, 0xff, sizeof *s.slot * s.nslot);
        struct node *root = &s.nodes[s.nn++];
        memset(root, 0, sizeof *root);
        root->hash = 1469598103934665603ull;
        root->parent = root->sym = -1;
        if (o->lm)
            root->hist[root->nhist++] = sparq_lm_bos(o->lm);
        ent[0] = (struct entry){ 0, 0.0, -INFINITY };
    }
    for (int t = 0; t < T && rc == SPARQ_OK; t++) {
        if (s.nn + beam > s.ncap && (rc = collect(&s, ent, nb, beam)))
            break;
        const float *x = logits + (size_t)t * V;
        double mx = x[0], z = 0.0;
        for (int k = 1; k < V; k++)
            mx = x[k] > mx ? x[k] : mx;
        for (int k = 0; k < V; k++)
            z += exp(x[k] - mx);
        for (int k = 0; k < V; k++)
            lp[k] = x[k] - mx - log(z);
        s.nc = 0;
        for (int i = 0; i < nb; i++) {
            const struct entry e = ent[i];
            const struct node p = s.nodes[e.node];
            double ptot = lse(e.pb, e.pnb);
            int last = p.sym;
            struct cand *same = cand_get(&s, p.hash, e.node, -1);
            same->pb = lse(same->pb, ptot + lp[0]);
            for (int k = 1; k < V; k++) {
                if (k == last) {
                    // a repeat without a blank between merges into the same prefix
                    same->pnb = lse(same->pnb, e.pnb + lp[k]);
                    if (e.pb != -INFINITY) {
                        struct cand *c = cand_get(&s, extend_hash(p.hash, k), e.node, k);
                        c->pnb = lse(c->pnb, e.pb + lp[k]);
                    }
                } else {
                    struct cand *c = cand_get(&s, extend_hash(p.hash, k), e.node, k);
                    c->pnb = lse(c->pnb, ptot + lp[k]);
                }
            }
        }
        for (int i = 0; i < s.nc; i++) {
            s.slot[s.cs[i].slot] = -1;
            s.cs[i].score = lse(s.cs[i].pb, s.cs[i].pnb) + s.cs[i].nd.fuse;
        }
        nb = s.nc < beam ? s.nc : beam;
        if (nb < s.nc)
            select_best(s.cs, s.nc, nb);
        qsort(s.cs, (size_t)nb, sizeof *s.cs, cand_cmp);
        for (int i = 0; i < nb; i++) {
            struct cand *c = &s.cs[i];
            if (c->node < 0) { // collect() left room for beam new nodes
                c->node = s.nn;
                s.nodes[s.nn++] = c->nd;
            }
            ent[i] = (struct entry){ c->node, c->pb, c->pnb };
        }
    }
    int n = 0;
    if (rc == SPARQ_OK) {
        int best = 0;
        double bs = final_score(&s, &ent[0]);
        for (int i = 1; i < nb; i++) {
            double f = final_score(&s, &ent[i]);
            if (f > bs) {
                bs = f;
                best = i;
            }
        }
        int depth = 0;
        for (int i = ent[best].node; s.nodes[i].parent >= 0; i = s.nodes[i].parent)
            depth++;
        syms = sparq_malloc(sizeof *syms * (size_t)(depth + 1), "beam result");
        if (!syms)
            rc = SPARQ_ENOMEM;
        else {
            int k = depth;
            for (int i = ent[best].node; s.nodes[i].parent >= 0; i = s.nodes[i].parent)
                syms[--k] = s.nodes[i].sym;
            for (k = 0; k < depth; k++)
                n = put_char(out, cap, n, syms[k]);
            if (cap)
                out[n] = 0;
        }
    }
    free(syms);
    free(ent);
    free(lp);
    free(s.cs);
    free(s.slot);
    free(s.nodes);
    free(s.map);
    return rc ? rc : n;
}

int sparq_ctc_beam(const float *logits, int T, int V, int beam, char *out, size_t cap)
{
    struct sparq_ctc_beam_options o = { beam, NULL, 0.0, 0.0 }; // no LM, no word bonus
    return sparq_ctc_beam_ex(logits, T, V, &o, out, cap);
}
