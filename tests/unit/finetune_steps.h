// Compression-aware training steps on one fixed batch, shared by the
// fine-tuning and read-out tests: forward, CTC, backward, the compressor's
// hooks around them (c may be NULL: plain float training), clipping, AdamW.
#ifndef SPARQ_TEST_FINETUNE_STEPS_H
#define SPARQ_TEST_FINETUNE_STEPS_H

#include <stdint.h>
#include <stdlib.h>

#include "sparq_ctc.h"
#include "sparq_finetune.h"
#include "sparq_train.h"

struct ft_batch {
    const float *feats;  // B x T x n_mels
    const int *lens;     // B frame counts
    const int *labels;   // B x L label ids
    const int *label_lens;
    int B, T;
};

// Runs `steps` steps, advancing *step; returns the last step's CTC loss.
static inline double ft_train_steps(struct sparq_model *m, struct sparq_adamw *opt, struct sparq_compressor *c,
                                    const struct ft_batch *bt, int steps, int64_t *step)
{
    struct sparq_acts *a = sparq_acts_create(&m->cfg, bt->B, bt->T);
    float *dlogits = malloc(sizeof(float) * (size_t)bt->B * (size_t)bt->T * (size_t)m->cfg.vocab);
    double loss = 0;
    for (int i = 0; i < steps; i++, (*step)++) {
        if (c)
            sparq_compressor_pre_forward(c, m, *step);
        int T2 = sparq_forward(m, a, bt->feats, bt->lens, bt->B, bt->T, 1);
        loss = sparq_ctc_batch(sparq_acts_logits(a), sparq_acts_out_lens(a), bt->B, T2, m->cfg.vocab, bt->labels,
                               bt->label_lens, dlogits, NULL);
        sparq_model_zero_grad(m);
        sparq_backward(m, a, dlogits);
        if (c)
            sparq_compressor_pre_step(c, m);
        sparq_clip_grad_norm(m, 5.0);
        sparq_adamw_step(opt, m, 3e-3f);
    }
    free(dlogits);
    sparq_acts_free(a);
    return loss;
}

#endif
