// Private to the language model files (lm.c, lm_build.c, lm_arpa.c): the
// hashed n-gram tables and the vocabulary behind struct sparq_lm.
#ifndef SPARQ_LM_INTERNAL_H
#define SPARQ_LM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "sparq_lm.h"

#define MAXN SPARQ_LM_MAX_ORDER
#define NO_BACKOFF 0.0 // log10 of 1: what an absent backoff weight means

struct gram {
    int w[MAXN];
    double logp, bo; // log10
    // Estimation only: raw and adjusted (continuation) counts, and as a
    // history: the sum and the numbers of extensions with count 1, 2, 3+.
    long count, adj, lefts, hsum, hn[3];
};

struct table {
    struct gram *g;
    size_t n, cap;
    int32_t *slot; // index into g, -1 = empty; size nslot (power of two)
    size_t nslot;
};

struct sparq_lm {
    int order;
    char **words;
    size_t nwords, capwords;
    int32_t *wslot;
    size_t nwslot;
    struct table t[MAXN]; // t[n-1] holds the n-grams
    int bos, eos, unk;
};

// Finds an n-gram (n words) in its table, or NULL.
struct gram *lm_table_find(const struct table *t, const int *w, int n);
// Finds the n-gram or adds it (zeroed, no backoff); *added tells which. NULL on failure.
struct gram *lm_table_add(struct table *t, const int *w, int n, int *added);
// Id of a word, or -1.
int lm_vocab_find(const struct sparq_lm *lm, const char *s, size_t len);
// Id of a word, added if new; negative error code on failure.
int lm_vocab_add(struct sparq_lm *lm, const char *s, size_t len);
struct sparq_lm *lm_new(int order);
// The whole text file, NUL-terminated (a NUL inside is refused).
int lm_read_file(const char *path, char **buf, size_t *len);
// Calls fn(ctx, sentence) for every line of text, normalised with
// sparq_text_normalize (building and perplexity read text the same way);
// stops at the first non-zero return and returns it.
int lm_each_sentence(const char *text, int (*fn)(void *ctx, const char *sentence), void *ctx);

#endif
