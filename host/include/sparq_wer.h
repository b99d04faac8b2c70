// sparq-layer: data
// Word and character error rates as sclite and jiwer compute them: a
// minimum-cost alignment of hypothesis to reference, counting
// substitutions, deletions and insertions. Two cost sets:
//  - SPARQ_ALIGN_LEVENSHTEIN: unit costs, as jiwer (the default);
//  - SPARQ_ALIGN_SCLITE: sclite's weights (substitution 4, deletion 3,
//    insertion 3), which split the same errors differently when several
//    alignments tie (e.g. "a b" / "b a": 2 S vs 1 D + 1 I).
// docs/data.md shows both against the sctk package's sclite.
#ifndef SPARQ_WER_H
#define SPARQ_WER_H

#include <stdint.h>
#include <stdio.h>

struct sparq_edit_counts {
    int64_t hits, sub, del, ins;
    int64_t ref;  // reference length N = hits + sub + del
    int64_t hyp;  // hypothesis length = hits + sub + ins
};

enum { SPARQ_ALIGN_LEVENSHTEIN = 0, SPARQ_ALIGN_SCLITE = 1 };

// Aligns whitespace-separated words of ref and hyp (already normalised).
// Among equal-cost alignments, the backtrace prefers hit/substitution, then
// deletion, then insertion (documented in docs/data.md).
int sparq_align_words(const char *ref, const char *hyp, struct sparq_edit_counts *out);
// Aligns UTF-8 characters (code points) of ref and hyp, spaces included,
// after collapsing runs of whitespace and trimming, as jiwer.cer does.
int sparq_align_chars(const char *ref, const char *hyp, struct sparq_edit_counts *out);
// The same with an explicit cost set (SPARQ_ALIGN_*).
int sparq_align_words_ex(const char *ref, const char *hyp, int mode, struct sparq_edit_counts *out);
int sparq_align_chars_ex(const char *ref, const char *hyp, int mode, struct sparq_edit_counts *out);

void sparq_edit_counts_add(struct sparq_edit_counts *total, const struct sparq_edit_counts *c);
// (sub + del + ins) / max(ref, 1): an empty reference scores 0 if the
// hypothesis is empty too, else its insertion count (never inf or NaN).
double sparq_error_rate(const struct sparq_edit_counts *c);

// A scored utterance pair, used by `sparq score` and `sparq eval`.
struct sparq_score_entry {
    char *id;
    char *ref; // normalised
    char *hyp; // normalised ("" if the hypothesis file lacks the id)
    struct sparq_edit_counts words, chars;
};
struct sparq_score {
    struct sparq_score_entry *entries;
    size_t count;
    struct sparq_edit_counts words, chars; // totals
    size_t missing_hyp; // reference ids with no hypothesis (scored as empty)
    size_t extra_hyp;   // hypothesis ids not in the reference (ignored)
    int mode;           // SPARQ_ALIGN_* used
};

// Reads `id text` lines (Kaldi text form) or, for *.jsonl / *.json paths,
// a manifest (text field; id field or audio basename as id), normalises
// both sides with sparq_text_normalize() and aligns every reference id.
int sparq_score_files(const char *ref_path, const char *hyp_path, struct sparq_score *out);
// Same from in-memory parallel arrays (ids may be NULL).
int sparq_score_pairs(const char *const *ids, const char *const *refs, const char *const *hyps, size_t n,
                      struct sparq_score *out);
// Both with an explicit cost set (SPARQ_ALIGN_*); the two above use Levenshtein.
int sparq_score_files_ex(const char *ref_path, const char *hyp_path, int mode, struct sparq_score *out);
int sparq_score_pairs_ex(const char *const *ids, const char *const *refs, const char *const *hyps, size_t n, int mode,
                         struct sparq_score *out);
void sparq_score_print_table(const struct sparq_score *s, FILE *out, int per_utt);
// JSON object with totals (and per-utterance entries if per_utt), malloc'd.
char *sparq_score_json(const struct sparq_score *s, int per_utt);
void sparq_score_free(struct sparq_score *s);

#endif
