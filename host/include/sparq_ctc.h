// sparq-layer: model
// CTC loss (Graves et al. 2006) in log space and CTC decoding.
// Symbols: 0 = blank, then the sparq_text.h vocabulary (space, apostrophe, a-z).
#ifndef SPARQ_CTC_H
#define SPARQ_CTC_H

#include <stddef.h>

// Negative log-likelihood of `labels` (L) given logits (T, V) (log-softmax is
// applied inside). If dlogits (T, V) is not NULL it receives scale * d(loss)/d(logits)
// (overwritten). Returns INFINITY (and zero gradient) when no alignment exists.
double sparq_ctc_loss(const float *logits, int T, int V, const int *labels, int L, float scale, float *dlogits);

// Batch loss as torch.nn.CTCLoss(blank=0, reduction='mean', zero_infinity=True):
// mean over utterances of loss_b / max(1, target_len_b); infeasible utterances
// count as 0. logits/dlogits (B, Tmax, V), out_lens (B); targets concatenated
// (sum target_lens). dlogits (may be NULL) is overwritten, zero at padded frames.
// losses (B, may be NULL) receives each utterance's unnormalised loss.
// Returns the batch loss.
double sparq_ctc_batch(const float *logits, const int *out_lens, int B, int Tmax, int V, const int *targets,
                       const int *target_lens, float *dlogits, double *losses);

// Greedy decoding: best symbol per frame, repeats merged, blanks removed.
// Writes a NUL-terminated string (at most cap-1 chars); returns its length.
int sparq_ctc_greedy(const float *logits, int T, int V, char *out, size_t cap);

// Prefix beam search (Hannun et al. 2014), optionally fused with a word
// n-gram LM, lexicon-free: a prefix is ranked by
//   ln P_ctc(prefix) + alpha * ln P_lm(completed words) + beta * (completed words)
// where a word completes when a space is emitted; at the end of the
// utterance the last partial word and </s> are scored too. Partial words are
// never constrained; a word the LM lacks gets the <unk> probability.
// Prefixes are identified by a 64-bit hash of their symbols (hashed lookup).
// The beam is clamped to 1..SPARQ_CTC_MAX_BEAM.
#define SPARQ_CTC_MAX_BEAM 1024
struct sparq_lm;
struct sparq_ctc_beam_options {
    int beam;                  // prefixes kept per frame
    const struct sparq_lm *lm; // NULL: no LM (beta still counts words)
    double alpha;              // LM weight (on natural-log probabilities)
    double beta;               // word insertion bonus (nats per word)
};
// Defaults: beam 16, no LM, alpha 0.5, beta 1.0.
void sparq_ctc_beam_options_default(struct sparq_ctc_beam_options *o);
// Writes the best prefix as a NUL-terminated string (at most cap-1 chars);
// returns its length, or a negative sparq_error.h code (out = "").
int sparq_ctc_beam_ex(const float *logits, int T, int V, const struct sparq_ctc_beam_options *o, char *out,
                      size_t cap);

// Prefix beam search with `beam` prefixes, no LM and no word bonus.
int sparq_ctc_beam(const float *logits, int T, int V, int beam, char *out, size_t cap);

// Text -> label ids with sparq_vocab_index(); characters outside the
// vocabulary are skipped. Returns the number of labels written (<= cap).
int sparq_text_to_labels(const char *text, int *labels, int cap);

#endif
