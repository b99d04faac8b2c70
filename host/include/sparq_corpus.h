// sparq-layer: data
// The built-in default corpus: seeded voice-search style queries mixed with
// open-vocabulary sentences (sparq_textsrc.h), spoken by the TTS engines
// Debian ships (espeak-ng, flite, festival), resampled to 16 kHz mono, part
// of train augmented with channel effects. docs/data.md describes the
// grammar, the voices of each split and the augmentation.
#ifndef SPARQ_CORPUS_H
#define SPARQ_CORPUS_H

#include <stddef.h>
#include <stdint.h>

// One query from the grammar (lowercase words, digits already spelled
// out). Returns the length written into buf, or -1 if size is too small.
int sparq_corpus_sentence(uint64_t *rng, char *buf, size_t size);
// Number of distinct words the grammar can produce and the list itself.
size_t sparq_corpus_vocabulary(const char ***words);

struct sparq_corpus_options {
    const char *out_dir;     // writes out_dir/{train,dev,test-voices,test-text}.jsonl (test.jsonl = test-voices)
                             // and out_dir/wav/SPLIT/*.wav
    double train_hours;      // 1.0
    double dev_hours;        // 0.1
    double test_hours;       // 0.1 of held-out voices (test-voices)
    double test_text_hours;  // -1: same as test_hours; held-out text sources spoken by training voices
    uint64_t seed;           // 1
    int workers;             // 2 worker processes
    double augment_fraction; // 0.5 of train utterances get channel effects
    double open_fraction;    // 0.5 of train/dev/test-voices sentences from open text (sparq_textsrc.h)
    const char *text_sources; // NULL: all default sources; "none": templates only
    const char *text_root;    // NULL: /usr/share
    int progress;            // 1: progress line with rate and ETA on stderr
};
void sparq_corpus_default_options(struct sparq_corpus_options *opt);
int sparq_corpus_generate(const struct sparq_corpus_options *opt);

// The open-vocabulary sentences split `split` ("train", "dev", "test-voices",
// "test-text") draws from, exactly as sparq_corpus_generate() assigns them (by
// sentence hash; held-out sources only in test-text), one per line into a
// malloc'd buffer (*text, *len, *count sentences). Text-only data for a
// language model: the train pool holds no dev or test sentence.
int sparq_corpus_text_pool(const char *split, const char *text_root, const char *text_sources, char **text,
                           size_t *len, size_t *count);

#endif
