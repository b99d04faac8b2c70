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
// Prefix beam search (no language model) with `beam` prefixes kept per frame.
int sparq_ctc_beam(const float *logits, int T, int V, int beam, char *out, size_t cap);

// Text -> label ids with sparq_vocab_index(); characters outside the
// vocabulary are skipped. Returns the number of labels written (<= cap).
int sparq_text_to_labels(const char *text, int *labels, int cap);

#endif
