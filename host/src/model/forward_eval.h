// Private to host/src/model: the decode-only (eval) Conformer block.
#ifndef SPARQ_FORWARD_EVAL_H
#define SPARQ_FORWARD_EVAL_H

#include "sparq_layers.h"
#include "sparq_model.h"

// The few buffers an eval-mode forward reuses across every block, instead of
// the per-layer activations training keeps (N = B*T2 frames, W = max(ffn_dim,
// 3d)). x holds the residual stream: the block's input on entry, its output
// on return (x and ln trade places for the final norm).
struct sparq_eval_bufs {
    float *x, *ln, *tmp; // (N, d) each
    float *big;          // (N, W): FFN hidden, q|k|v, pointwise conv 1
    float *att;          // (nt, T2, T2) attention weights of one (utterance, head) per thread
    float *mean, *rstd;  // (N) LayerNorm statistics
    float *bn_mean, *bn_rstd; // (d) BatchNorm running statistics as used
    int nt;              // threads the attention scratch is sized for
};

// Block l in eval mode: the same float operations, in the same order and
// through the same linear hook, as the training forward's block_forward with
// training = 0, so the logits are bit-identical.
void sparq_block_forward_eval(struct sparq_model *m, int l, struct sparq_eval_bufs *e, const int *lens, int B,
                              int T2);

#endif
