// sparq-layer: data
// Open-vocabulary sentences for the built-in corpus, read at generation time
// from English text that Debian main ships (fortune databases, WordNet usage
// examples), normalised by sparq_text_normalize(), filtered to speakable
// lengths and de-duplicated. Whole sources are held out for the test-text
// split. docs/data.md lists the sources and the filter.
#ifndef SPARQ_TEXTSRC_H
#define SPARQ_TEXTSRC_H

#include <stddef.h>

#define SPARQ_TEXTSRC_MIN_WORDS 3
#define SPARQ_TEXTSRC_MAX_WORDS 25

// Normalises one raw sentence and returns it (malloc'd) if it is speakable:
// 3-25 words, only the CTC vocabulary after normalisation, no symbol whose
// spoken form normalisation would drop ($ + = / @ # * ...), no word longer
// than 20 letters, no run of vowel-less "words" such as "zzzz" or ascii art.
// Returns NULL when rejected (or out of memory).
char *sparq_textsrc_clean(const char *raw);

struct sparq_textsrc_source {
    char name[48];     // "fortune/literature", "wordnet/noun"
    char path[1024];   // file read
    int heldout;       // 1: only in test-text, never in train/dev/test-voices
    size_t raw;        // candidate sentences found in the file
    size_t kept;       // after the filter and de-duplication
};

struct sparq_textsrc_sentence {
    char *text;   // normalised
    int source;   // index into sources
};

struct sparq_textsrc {
    struct sparq_textsrc_source *sources;
    int nsources;
    struct sparq_textsrc_sentence *sent; // de-duplicated, in file order
    size_t count;
};

// Reads the sources named in `list` (comma separated: "fortune/NAME",
// "wordnet/POS", the family names "fortunes" and "wordnet" for the default
// files of each, or "default" = both families; NULL means "default") from
// the tree under `root` (NULL: "/usr/share"; fortunes in games/fortunes/,
// WordNet in wordnet/). A missing file is an error naming the file and the
// Debian package that ships it. A sentence found in both a training and a
// held-out source stays only with the training source.
int sparq_textsrc_load(struct sparq_textsrc *t, const char *root, const char *list);
void sparq_textsrc_free(struct sparq_textsrc *t);

// A sorted set of distinct words, for vocabulary sizes and OOV rates.
struct sparq_wordset {
    char **words;
    size_t count;
};
// Adds every word of the given space-separated texts.
int sparq_wordset_add(struct sparq_wordset *ws, const char *const *texts, size_t n);
int sparq_wordset_has(const struct sparq_wordset *ws, const char *word, size_t len);
// Share of word tokens (and of distinct words) of `texts` that are not in ws.
void sparq_wordset_oov(const struct sparq_wordset *ws, const char *const *texts, size_t n, double *token_rate,
                       double *type_rate);
void sparq_wordset_free(struct sparq_wordset *ws);

#endif
