// sparq-layer: runtime
// Long-form transcription: audio of any length decoded in windows so memory
// is bounded by the window, not the file (attention keeps T^2 per layer).
// The file is read as a stream. A file that fits in one window is decoded
// whole; a longer one in segments that end at the first pause (>= 120 ms)
// at least 1.5 s into them, or, with no pause in a full window, at the
// quietest 200 ms of its last third (docs/runtime.md "Long audio"), so
// segments never overlap and no words need merging. Works with any backend:
// it only calls sparq_forward on the model (wrap it in
// sparq_runtime_activate when a runtime is used).
#ifndef SPARQ_LONGFORM_H
#define SPARQ_LONGFORM_H

#include <stddef.h>
#include <stdio.h>

#include "sparq_ctc.h"
#include "sparq_model.h"
#include "sparq_train.h"

struct sparq_runtime;

struct sparq_longform_options {
    double window_s; // longest window in seconds (30)
    int beam;        // 1 = greedy CTC, else prefix beam search
    const struct sparq_lm *lm; // word LM fused into the beam search (NULL: none)
    double lm_weight, word_bonus; // alpha and beta (sparq_ctc_beam_options)
};
void sparq_longform_default_options(struct sparq_longform_options *o);

// Where to end a window of n samples: the centre of the quietest `span`
// samples (energy in blocks of `block` samples) whose centre lies in
// [lo, n). Returns n if lo >= n.
size_t sparq_longform_cut(const float *x, size_t n, size_t lo, size_t block, size_t span);

// The centre of the first pause in x[0..n): at least min_blocks blocks of
// `block` samples whose mean square is below 1000 (30 dB in int16 units) or
// 10 dB over the quietest block, whichever is higher (but always 20 dB under
// the loudest block, so a steady sound has no pause), centred at or after
// `from`. Returns n if there is none.
size_t sparq_longform_pause(const float *x, size_t n, size_t from, size_t block, size_t min_blocks);

// Transcribes `path` with model m (rt, if not NULL, is checked for backend
// errors after each window). *text (malloc'd) is the windows' transcripts
// joined by single spaces; *windows the number of windows decoded.
int sparq_longform_transcribe(struct sparq_model *m, struct sparq_runtime *rt, const char *path,
                              const struct sparq_longform_options *o, char **text, int *windows);

// eval decodes each utterance whole: prints one warning line on `log`
// naming the manifest if any utterance of ds is longer than the default
// window (30 s), where memory grows with T^2. Returns how many are.
size_t sparq_longform_warn_long(const struct sparq_dataset *ds, const char *manifest, FILE *log);

#endif
