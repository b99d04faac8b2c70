// Training: AdamW, learning-rate schedule, gradient clipping, checkpoints and
// the `sparq train` loop. Checkpoint format: docs/model.md.
#ifndef SPARQ_TRAIN_H
#define SPARQ_TRAIN_H

#include <stdint.h>

#include "sparq_model.h"

// AdamW exactly as torch.optim.AdamW: p -= lr*wd*p; m, v moments; bias
// correction; p -= lr * mhat / (sqrt(vhat) + eps). Weight decay applies only
// to SPARQ_INIT_W tensors (weight matrices / conv kernels).
struct sparq_adamw {
    float beta1, beta2, eps, weight_decay;
    int64_t t;   // steps taken
    float *m;    // (n_params) same layout as the parameters
    float *v;    // (n_params)
};
int sparq_adamw_init(struct sparq_adamw *o, const struct sparq_model *m, float beta1, float beta2, float eps,
                     float weight_decay);
void sparq_adamw_free(struct sparq_adamw *o);
void sparq_adamw_step(struct sparq_adamw *o, struct sparq_model *m, float lr);

// Global L2 norm of the gradients; if above max_norm (> 0) scales them by
// max_norm / (norm + 1e-6) as torch.nn.utils.clip_grad_norm_. Returns the norm.
double sparq_clip_grad_norm(struct sparq_model *m, double max_norm);

// Linear warm-up to peak over `warmup` steps, then cosine decay to
// peak*final_ratio at `total` steps (constant after).
float sparq_lr_at(int64_t step, float peak, int64_t warmup, int64_t total, float final_ratio);

// Training state saved with a checkpoint beside the model.
struct sparq_train_state {
    int64_t step;       // optimizer steps done
    int64_t epoch;      // current epoch (0-based)
    int64_t batch;      // batches of this epoch already done
    uint64_t seed;      // run seed: shuffles and augmentation derive from (seed, epoch, batch)
    double best_dev_wer; // best dev WER so far (1e9 if none)
};

// Checkpoint/model file: magic "SPARQCKP", version, config text, parameters,
// buffers (BN running stats, CMVN) and, if `opt` is not NULL, the optimizer
// moments and training state. Written with sparq_write_file_atomic().
int sparq_checkpoint_save(const char *path, const struct sparq_model *m, const struct sparq_adamw *opt,
                          const struct sparq_train_state *st);
// Loads a file written by sparq_checkpoint_save(); creates the model from the
// stored config. If opt is not NULL the file must hold optimizer state
// (opt is initialised from it). Errors name the file and the field.
int sparq_checkpoint_load(const char *path, struct sparq_model *m, struct sparq_adamw *opt,
                          struct sparq_train_state *st);

#endif
