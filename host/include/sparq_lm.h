// sparq-layer: model
// A word n-gram language model (order 1..4) for the CTC decoder.
// Built from text with interpolated modified Kneser-Ney smoothing (Chen &
// Goodman 1998: three discounts per order from the counts of counts,
// continuation counts below the top order), stored and read as a standard
// ARPA backoff model (log10 probabilities and backoff weights).
// Words are the tokens of sparq_text_normalize() split on spaces; every line
// is one sentence, padded with <s> ... </s>. <unk> is always in the
// vocabulary and receives the uniform share of the unigram interpolation
// mass; every word not in the model is looked up as <unk>.
#ifndef SPARQ_LM_H
#define SPARQ_LM_H

#include <stddef.h>

#define SPARQ_LM_MAX_ORDER 4
#define SPARQ_LM_DEFAULT_ORDER 3

struct sparq_lm;

// Builds a model from text files (one sentence per line, normalised here).
int sparq_lm_build_files(struct sparq_lm **out, const char *const *paths, int npaths, int order);
// The same from sentences in memory (lines separated by '\n').
int sparq_lm_build_text(struct sparq_lm **out, const char *text, int order);

// Reads an ARPA file; a malformed file fails with "FILE:LINE: what".
int sparq_lm_read(struct sparq_lm **out, const char *path);
// Parses ARPA text already in memory; `name` is used in error messages.
int sparq_lm_parse(struct sparq_lm **out, const char *text, size_t len, const char *name);
// ARPA text of the model (malloc'd, NUL-terminated), or NULL on failure.
char *sparq_lm_arpa(const struct sparq_lm *lm);
// Writes the ARPA text atomically.
int sparq_lm_write(const struct sparq_lm *lm, const char *path);
void sparq_lm_free(struct sparq_lm *lm);

int sparq_lm_order(const struct sparq_lm *lm);
size_t sparq_lm_count(const struct sparq_lm *lm, int n); // number of n-grams of order n
int sparq_lm_bos(const struct sparq_lm *lm);              // id of <s>
int sparq_lm_eos(const struct sparq_lm *lm);              // id of </s>
int sparq_lm_unk(const struct sparq_lm *lm);              // id of <unk>
// Id of the word w[0..len), or the <unk> id.
int sparq_lm_word(const struct sparq_lm *lm, const char *w, size_t len);
const char *sparq_lm_word_text(const struct sparq_lm *lm, int id);
size_t sparq_lm_vocab_size(const struct sparq_lm *lm);

// log10 P(w | hist) with backoff; hist holds nhist word ids, oldest first
// (only the last order-1 are used).
double sparq_lm_logp(const struct sparq_lm *lm, const int *hist, int nhist, int w);

// Perplexity of the sentences in a text file (normalised, one per line),
// counting </s>; out-of-vocabulary words are scored as <unk> and counted.
struct sparq_lm_ppl {
    size_t sentences, words, oovs;
    double log10_prob; // total over words and </s>
    double perplexity; // 10^(-log10_prob / (words + sentences))
};
int sparq_lm_perplexity_file(const struct sparq_lm *lm, const char *path, struct sparq_lm_ppl *out);
int sparq_lm_perplexity_text(const struct sparq_lm *lm, const char *text, struct sparq_lm_ppl *out);

#endif
