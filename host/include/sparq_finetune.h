// sparq-layer: compress
// Compression-aware fine-tuning (the USM-Lite recipe): a compressor holds,
// for every weight matmul the spec compresses, its N:M mask, its per-channel
// scales and a float master copy. Around each training step:
//   pre_forward   masks/scales per schedule; the parameters become
//                 fake_quant(master * mask) (prune first, then quantize)
//   pre_step      gradients w.r.t. the fake-quantized weights go straight
//                 through to the master weights (STE; clipped weights get none;
//                 pruned ones per mask_grad); LSQ scales take their own step;
//                 the parameters are the master weights again for the optimizer
// so the optimizer, clipping and checkpoints of the trainer are unchanged.
// What is trained is exactly what sparq_export writes and the accelerator runs.
#ifndef SPARQ_FINETUNE_H
#define SPARQ_FINETUNE_H

#include <stdint.h>

#include "sparq_compress.h"
#include "sparq_model.h"
#include "sparq_quant.h"
#include "sparq_export.h"
#include "sparq_train.h"

enum sparq_mask_schedule {
    SPARQ_MASK_ONESHOT = 0,   // magnitude masks at the first step, then fixed
    SPARQ_MASK_RECOMPUTE = 1, // recomputed from the master weights every `mask_every` steps
    SPARQ_MASK_GRADUAL = 2,   // N steps down 4 -> 2 -> 1 to the target, evenly over `gradual_steps`
};

struct sparq_finetune_options {
    struct sparq_compress_spec spec;
    enum sparq_scale_method scale_method; // max-abs, MSE clipping, or LSQ (learned, MSE init)
    enum sparq_mask_schedule schedule;
    int64_t mask_every;      // RECOMPUTE period in steps
    int64_t gradual_steps;   // GRADUAL length in steps
    int64_t freeze_scales_at; // scales (and masks) frozen from this step on (0 = never); export uses frozen ones
    enum sparq_mask_grad mask_grad;
    float srste_lambda;      // SR-STE decay on pruned weights
    float lsq_lr;            // learning rate of the LSQ scales (Adam)
    int act_quant;           // simulate the runtime's per-row int8 activations in the forward pass
    int readout_q8;          // also the device's int8 read-out of every packed matmul (sparq_readout.h):
                             // clip levels calibrated (EMA of the per-step max |acc|, frozen with the
                             // scales) and exported; the forward pass is the integer runtime's q8 path
    int chain;               // also each feed-forward module as the device's chain (sparq_chain.h): static
                             // scales A_in, A_1 calibrated (EMA of per-step maxima, frozen with the scales)
                             // and exported; needs readout_q8 (W2's read-out). --readout chain
    float distill;           // weight of the distillation term (0 = off)
    const char *teacher;     // float teacher for distillation (NULL: the model fine-tuning starts from)
};
void sparq_finetune_default_options(struct sparq_finetune_options *o);
// Parses "--mask-schedule" style words: oneshot, recompute, gradual.
int sparq_mask_schedule_parse(const char *s, enum sparq_mask_schedule *out);
int sparq_scale_method_parse(const char *s, enum sparq_scale_method *out);

struct sparq_compressor;
int sparq_compressor_create(struct sparq_compressor **c, const struct sparq_model *m,
                            const struct sparq_finetune_options *o);
void sparq_compressor_free(struct sparq_compressor *c);
// The hooks (see top); step is the optimizer step about to be taken.
int sparq_compressor_pre_forward(struct sparq_compressor *c, struct sparq_model *m, int64_t step);
void sparq_compressor_pre_step(struct sparq_compressor *c, struct sparq_model *m);
// Puts the master weights back after a forward-only use of pre_forward
// (dev evaluation) without touching gradients or scales.
void sparq_compressor_restore(struct sparq_compressor *c, struct sparq_model *m);
// Masks, scales and (readout_q8, once calibrated) read-out clip levels as
// export overrides (valid while the compressor lives).
void sparq_compressor_overrides(const struct sparq_compressor *c, struct sparq_export_overrides *ov);
// Adds the calibrated FFN chain clips (o.chain, sparq_chain.h) to a model file
// sparq_export wrote; *grown (may be NULL) gets the bytes the file grew by.
int sparq_compressor_add_chain(const struct sparq_compressor *c, const struct sparq_model *m, const char *path,
                               size_t *grown);
// Number of compressed matmuls.
int sparq_compressor_count(const struct sparq_compressor *c);
// Save/restore masks and scales (resume); a sparq model file of sections.
int sparq_compressor_save(const struct sparq_compressor *c, const char *path);
int sparq_compressor_load(struct sparq_compressor *c, const char *path);

// ---- distillation ---------------------------------------------------------
// The float teacher's CTC posteriors as soft targets: the loss gains
//   weight * mean over utterances of (1/frames) * sum_frames KL(p_teacher || p_student)
// and dlogits gains its gradient weight * (p_student - p_teacher) / (B * frames).
// The teacher runs in eval mode on the student's (augmented) features.
struct sparq_teacher;
int sparq_teacher_open(struct sparq_teacher **t, const char *path, const struct sparq_model *student);
void sparq_teacher_free(struct sparq_teacher *t);
int sparq_teacher_distill(struct sparq_teacher *t, const float *feats, const int *lens, int B, int T,
                          const float *logits, const int *out_lens, int T2, int V, float weight, float *dlogits,
                          double *loss);

// ---- one whole run (sparq finetune, sparq ablate) --------------------------
// Trains with the compressor's hooks (and distillation if fo->distill > 0),
// then exports out_dir/model.spq with the masks and scales trained.
struct sparq_finetune_result {
    char model_path[4096];
    struct sparq_export_report export;
    double seconds; // wall time of training and export
};
// Returns SPARQ_OK, 1 if stopped early by *o->stop (state saved, nothing
// exported), or a negative error code.
int sparq_finetune_run(const struct sparq_train_options *o, const struct sparq_finetune_options *fo,
                       struct sparq_finetune_result *res);

#endif
