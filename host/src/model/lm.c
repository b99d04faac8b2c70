// Word n-gram language model: hashed n-gram tables and vocabulary, backoff
// queries and perplexity. Estimation is in lm_build.c, ARPA text in lm_arpa.c.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sparq_error.h"
#include "sparq_lm.h"
#include "sparq_text.h"
#include "lm_internal.h"

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

static uint64_t key_hash(const int *w, int n)
{
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < n; i++)
        h = mix(h ^ (uint32_t)w[i]) + (uint64_t)i;
    return h;
}

static uint64_t str_hash(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return mix(h);
}

// ---- n-gram tables (open addressing, load factor <= 1/2) ----

static int table_rehash(struct table *t, size_t nslot)
{
    int32_t *s = sparq_malloc(sizeof(int32_t) * nslot, "language model hash table");
    if (!s)
        return SPARQ_ENOMEM;
    memset(s, 0xff, sizeof(int32_t) * nslot);
    for (size_t i = 0; i < t->n; i++) {
        int n = 0;
        while (n < MAXN && t->g[i].w[n] >= 0)
            n++;
        size_t j = key_hash(t->g[i].w, n) & (nslot - 1);
        while (s[j] >= 0)
            j = (j + 1) & (nslot - 1);
        s[j] = (int32_t)i;
    }
    free(t->slot);
    t->slot = s;
    t->nslot = nslot;
    return SPARQ_OK;
}

struct gram *lm_table_find(const struct table *t, const int *w, int n)
{
    if (!t->nslot)
        return NULL;
    size_t j = key_hash(w, n) & (t->nslot - 1);
    for (; t->slot[j] >= 0; j = (j + 1) & (t->nslot - 1)) {
        struct gram *g = &t->g[t->slot[j]];
        if (!memcmp(g->w, w, sizeof(int) * (size_t)n) && (n == MAXN || g->w[n] < 0))
            return g;
    }
    return NULL;
}

// Finds the n-gram or adds it (zeroed, logp 0, no backoff); *added tells which.
struct gram *lm_table_add(struct table *t, const int *w, int n, int *added)
{
    struct gram *g = lm_table_find(t, w, n);
    *added = !g;
    if (g)
        return g;
    if (t->n + 1 > INT32_MAX / 2)
        return sparq_fail(SPARQ_ENOMEM, "language model: too many n-grams"), NULL;
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 64;
        struct gram *ng = realloc(t->g, sizeof *ng * cap);
        if (!ng)
            return sparq_fail(SPARQ_ENOMEM, "out of memory for %zu n-grams", cap), NULL;
        t->g = ng;
        t->cap = cap;
    }
    if (2 * (t->n + 1) > t->nslot && table_rehash(t, t->nslot ? 2 * t->nslot : 128))
        return NULL;
    g = &t->g[t->n];
    memset(g, 0, sizeof *g);
    for (int i = 0; i < MAXN; i++)
        g->w[i] = i < n ? w[i] : -1;
    g->bo = NO_BACKOFF;
    size_t j = key_hash(w, n) & (t->nslot - 1);
    while (t->slot[j] >= 0)
        j = (j + 1) & (t->nslot - 1);
    t->slot[j] = (int32_t)t->n++;
    return g;
}

// ---- vocabulary ----

int lm_vocab_find(const struct sparq_lm *lm, const char *s, size_t len)
{
    if (!lm->nwslot)
        return -1;
    for (size_t j = str_hash(s, len) & (lm->nwslot - 1); lm->wslot[j] >= 0; j = (j + 1) & (lm->nwslot - 1)) {
        const char *w = lm->words[lm->wslot[j]];
        if (!strncmp(w, s, len) && !w[len])
            return lm->wslot[j];
    }
    return -1;
}

static int vocab_rehash(struct sparq_lm *lm, size_t nslot)
{
    int32_t *s = sparq_malloc(sizeof(int32_t) * nslot, "language model vocabulary");
    if (!s)
        return SPARQ_ENOMEM;
    memset(s, 0xff, sizeof(int32_t) * nslot);
    for (size_t i = 0; i < lm->nwords; i++) {
        size_t j = str_hash(lm->words[i], strlen(lm->words[i])) & (nslot - 1);
        while (s[j] >= 0)
            j = (j + 1) & (nslot - 1);
        s[j] = (int32_t)i;
    }
    free(lm->wslot);
    lm->wslot = s;
    lm->nwslot = nslot;
    return SPARQ_OK;
}

// Id of the word, added if new; negative error code on failure.
int lm_vocab_add(struct sparq_lm *lm, const char *s, size_t len)
{
    int id = lm_vocab_find(lm, s, len);
    if (id >= 0)
        return id;
    if (lm->nwords >= INT32_MAX / 2)
        return sparq_fail(SPARQ_ENOMEM, "language model: too many words");
    if (lm->nwords == lm->capwords) {
        size_t cap = lm->capwords ? 2 * lm->capwords : 64;
        char **nw = realloc(lm->words, sizeof *nw * cap);
        if (!nw)
            return sparq_fail(SPARQ_ENOMEM, "out of memory for %zu words", cap);
        lm->words = nw;
        lm->capwords = cap;
    }
    if (2 * (lm->nwords + 1) > lm->nwslot && vocab_rehash(lm, lm->nwslot ? 2 * lm->nwslot : 128))
        return SPARQ_ENOMEM;
    char *w = sparq_malloc(len + 1, "language model word");
    if (!w)
        return SPARQ_ENOMEM;
    memcpy(w, s, len);
    w[len] = 0;
    lm->words[lm->nwords] = w;
    size_t j = str_hash(s, len) & (lm->nwslot - 1);
    while (lm->wslot[j] >= 0)
        j = (j + 1) & (lm->nwslot - 1);
    lm->wslot[j] = (int32_t)lm->nwords;
    return (int)lm->nwords++;
}

struct sparq_lm *lm_new(int order)
{
    struct sparq_lm *lm = sparq_calloc(1, sizeof *lm, "language model");
    if (lm) {
        lm->order = order;
        lm->bos = lm->eos = lm->unk = -1;
    }
    return lm;
}

void sparq_lm_free(struct sparq_lm *lm)
{
    if (!lm)
        return;
    for (size_t i = 0; i < lm->nwords; i++)
        free(lm->words[i]);
    free(lm->words);
    free(lm->wslot);
    for (int n = 0; n < MAXN; n++) {
        free(lm->t[n].g);
        free(lm->t[n].slot);
    }
    free(lm);
}

int sparq_lm_order(const struct sparq_lm *lm) { return lm->order; }
size_t sparq_lm_count(const struct sparq_lm *lm, int n) { return n >= 1 && n <= lm->order ? lm->t[n - 1].n : 0; }
int sparq_lm_bos(const struct sparq_lm *lm) { return lm->bos; }
int sparq_lm_eos(const struct sparq_lm *lm) { return lm->eos; }
int sparq_lm_unk(const struct sparq_lm *lm) { return lm->unk; }
size_t sparq_lm_vocab_size(const struct sparq_lm *lm) { return lm->nwords; }

const char *sparq_lm_word_text(const struct sparq_lm *lm, int id)
{
    return id >= 0 && (size_t)id < lm->nwords ? lm->words[id] : NULL;
}

int sparq_lm_word(const struct sparq_lm *lm, const char *w, size_t len)
{
    int id = lm_vocab_find(lm, w, len);
    return id >= 0 ? id : lm->unk;
}

// ---- query ----

double sparq_lm_logp(const struct sparq_lm *lm, const int *hist, int nhist, int w)
{
    int key[MAXN];
    int h = nhist < lm->order - 1 ? nhist : lm->order - 1;
    double acc = 0.0;
    if (w < 0 || (size_t)w >= lm->nwords)
        w = lm->unk;
    // Longest matching n-gram first; each miss multiplies in the history's backoff.
    for (; h >= 0; h--) {
        memcpy(key, hist + nhist - h, sizeof(int) * (size_t)h);
        key[h] = w;
        const struct gram *g = lm_table_find(&lm->t[h], key, h + 1);
        if (g)
            return acc + g->logp;
        if (h > 0) {
            const struct gram *c = lm_table_find(&lm->t[h - 1], key, h);
            if (c)
                acc += c->bo;
        }
    }
    return acc - 99.0; // the word is not even a unigram (only when <unk> is absent)
}

int lm_read_file(const char *path, char **buf, size_t *len)
{
    *buf = NULL;
    FILE *f = sparq_fopen(path, "rb");
    if (!f)
        return SPARQ_EIO;
    size_t cap = 1 << 16, n = 0;
    char *b = sparq_malloc(cap, "file contents");
    while (b) {
        n += fread(b + n, 1, cap - 1 - n, f);
        if (n < cap - 1)
            break;
        char *nb = realloc(b, cap * 2);
        if (!nb) {
            free(b);
            b = NULL;
            sparq_fail(SPARQ_ENOMEM, "%s: out of memory reading the file", path);
            break;
        }
        b = nb;
        cap *= 2;
    }
    int err = ferror(f);
    fclose(f);
    if (!b)
        return SPARQ_ENOMEM;
    if (err) {
        free(b);
        return sparq_fail(SPARQ_EIO, "%s: read error", path);
    }
    b[n] = 0;
    if (strlen(b) != n) {
        free(b);
        return sparq_fail(SPARQ_EFORMAT, "%s: contains a NUL byte (not a text file)", path);
    }
    *buf = b;
    *len = n;
    return SPARQ_OK;
}

// ---- perplexity ----

int lm_each_sentence(const char *text, int (*fn)(void *ctx, const char *sentence), void *ctx)
{
    int rc = SPARQ_OK;
    for (const char *p = text; *p && rc == SPARQ_OK;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char *line = sparq_malloc(len + 1, "text line");
        if (!line)
            return SPARQ_ENOMEM;
        memcpy(line, p, len);
        line[len] = 0;
        char *norm = sparq_text_normalize(line);
        free(line);
        if (!norm)
            return sparq_fail(SPARQ_ENOMEM, "out of memory normalising text");
        rc = fn(ctx, norm);
        free(norm);
        p += len + (e != NULL);
    }
    return rc;
}

struct ppl_ctx {
    const struct sparq_lm *lm;
    struct sparq_lm_ppl *out;
};

static int ppl_sentence(void *vctx, const char *norm)
{
    const struct ppl_ctx *c = vctx;
    const struct sparq_lm *lm = c->lm;
    struct sparq_lm_ppl *out = c->out;
    int hist[MAXN];
    int nh = 0;
    size_t nw = 0;
    hist[nh++] = lm->bos;
    for (const char *q = norm; *q;) {
        while (*q == ' ')
            q++;
        const char *s = q;
        while (*q && *q != ' ')
            q++;
        if (q == s)
            break;
        int id = lm_vocab_find(lm, s, (size_t)(q - s));
        out->oovs += id < 0;
        id = id < 0 ? lm->unk : id;
        out->log10_prob += sparq_lm_logp(lm, hist, nh, id);
        out->words++;
        nw++;
        if (nh == MAXN) {
            memmove(hist, hist + 1, sizeof(int) * (MAXN - 1));
            nh--;
        }
        hist[nh++] = id;
    }
    if (nw) { // empty lines are not sentences
        out->log10_prob += sparq_lm_logp(lm, hist, nh, lm->eos);
        out->sentences++;
    }
    return SPARQ_OK;
}

int sparq_lm_perplexity_text(const struct sparq_lm *lm, const char *text, struct sparq_lm_ppl *out)
{
    memset(out, 0, sizeof *out);
    struct ppl_ctx c = { lm, out };
    int rc = lm_each_sentence(text, ppl_sentence, &c);
    if (rc)
        return rc;
    size_t tokens = out->words + out->sentences;
    out->perplexity = tokens ? pow(10.0, -out->log10_prob / (double)tokens) : NAN;
    return SPARQ_OK;
}

int sparq_lm_perplexity_file(const struct sparq_lm *lm, const char *path, struct sparq_lm_ppl *out)
{
    char *text;
    size_t len;
    int rc = lm_read_file(path, &text, &len);
    if (rc)
        return rc;
    rc = sparq_lm_perplexity_text(lm, text, out);
    free(text);
    return rc;
}
