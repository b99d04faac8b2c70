// sparq-layer: model
// Decoding a whole dataset with the full decoder options (beam, word LM,
// LM weight, word bonus); sparq_train.h's sparq_decode_dataset*() are the
// same without an LM. Options travel as a parameter: no process-wide state.
#ifndef SPARQ_DECODE_H
#define SPARQ_DECODE_H

#include "sparq_ctc.h"
#include "sparq_train.h"

// As sparq_decode_dataset_dist() (rank 0 gathers every hypothesis);
// dec NULL or dec->beam <= 1: greedy.
int sparq_decode_dataset_dist_ex(struct sparq_model *m, const struct sparq_dataset *ds, int max_frames,
                                 const struct sparq_ctc_beam_options *dec, char **hyps);
// Under mpirun: rank 0 collects every rank's hypotheses into hyps (its own
// empty slots), refusing a set where no rank decoded utterance i (named by
// ids[i], or its index if ids is NULL); the other ranks keep theirs.
int sparq_decode_gather_hyps(char **hyps, size_t n_utts, const char *const *ids);

#endif
