// sparq-layer: model
// Training: AdamW, learning-rate schedule, gradient clipping, checkpoints and
// the `sparq train` loop. Checkpoint format: docs/model.md.
#ifndef SPARQ_TRAIN_H
#define SPARQ_TRAIN_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "sparq_fbank.h"
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

// The settings a run was started with, saved in its checkpoints (version 2)
// so that --resume can warn about each one given differently.
struct sparq_run_info {
    int valid;               // 0: not recorded (a version 1 checkpoint)
    uint64_t data_hash;      // sparq_dataset_hash() of the training set
    uint64_t n_utts;         // its utterances
    float lr, final_lr_ratio, clip, dither;
    int64_t warmup;
    int32_t epochs, batch_frames, max_utts, specaug;
    char manifest[1024];     // the training manifest's path, for messages
};

// Training state saved with a checkpoint beside the model.
struct sparq_train_state {
    int64_t step;       // optimizer steps done
    int64_t epoch;      // current epoch (0-based)
    int64_t batch;      // batches of this epoch already done
    uint64_t seed;      // run seed: shuffles and augmentation derive from (seed, epoch, batch)
    double best_dev_wer; // best dev WER so far (1e9 if none)
    struct sparq_run_info run;
};

// Checkpoint/model file: magic "SPARQCKP", version, config text, parameters,
// buffers (BN running stats, CMVN) and, if `opt` is not NULL, the optimizer
// moments and training state. Written with sparq_write_file_atomic().
int sparq_checkpoint_save(const char *path, const struct sparq_model *m, const struct sparq_adamw *opt,
                          const struct sparq_train_state *st);
// Loads a file written by sparq_checkpoint_save(); creates the model from the
// stored config. If opt is not NULL the file must hold optimizer state
// (opt is initialised from it). Errors name the file and the field. Every
// value is checked even when the hash matches (a hash proves integrity, not
// sanity): parameters and moments finite, BatchNorm variances >= 0, CMVN
// 1/std > 0, positions and hyper-parameters in range, no bytes left over.
int sparq_checkpoint_load(const char *path, struct sparq_model *m, struct sparq_adamw *opt,
                          struct sparq_train_state *st);
// The same from n bytes in memory; `name` starts every message.
int sparq_checkpoint_parse(const void *data, size_t n, const char *name, struct sparq_model *m,
                           struct sparq_adamw *opt, struct sparq_train_state *st);



// ---- data ----------------------------------------------------------------
// Utterances held in memory: audio at 16 kHz (int16 scale), normalised text
// and CTC labels. Features are computed per batch (dither and SpecAugment
// differ every epoch).
struct sparq_dataset {
    size_t n;
    char **ids;       // (n)
    char **texts;     // (n) normalised transcripts
    int **labels;     // (n) label ids (sparq_text.h vocabulary)
    int *n_labels;    // (n)
    float **samples;  // (n)
    size_t *n_samples; // (n)
    int *frames;      // (n) fbank frames
    double seconds;   // total audio
    size_t skipped;   // manifest entries dropped (too short for the model / for their transcript)
};
// Loads every entry of a JSONL manifest; `progress` prints a line on stderr.
// Entries shorter than the model's minimum (7 frames) or whose transcript
// cannot be aligned (more labels than output frames) are skipped and counted.
int sparq_dataset_load(struct sparq_dataset *ds, const char *manifest, int progress);
// FNV-1a over every utterance's id, text and sample count: which data a run saw.
uint64_t sparq_dataset_hash(const struct sparq_dataset *ds);
void sparq_dataset_free(struct sparq_dataset *ds);

// Normalised features of utterance i: fbank (dither seeded with `seed` if
// the plan dithers), then the model's CMVN. out holds frames[i]*n_mels.
int sparq_dataset_features(const struct sparq_dataset *ds, size_t i, const struct sparq_fbank_plan *plan,
                           uint64_t seed, const struct sparq_model *m, float *out);

// Batches by total padded frames: utterances sorted by length, grouped while
// count * longest <= max_frames (at least one per batch, at most max_utts).
struct sparq_batches {
    size_t n;       // batches
    size_t *order;  // (ds->n) utterance indices, sorted by length
    size_t *start;  // (n + 1) offsets into order
};
int sparq_batches_make(struct sparq_batches *b, const struct sparq_dataset *ds, int max_frames, int max_utts);
void sparq_batches_free(struct sparq_batches *b);

// ---- decoding a dataset ---------------------------------------------------
// Eval-mode forward in batches of max_frames and CTC decoding (beam <= 1:
// greedy; else prefix beam search). hyps[i] (malloc'd strings) receives the
// hypothesis of utterance i.
int sparq_decode_dataset(struct sparq_model *m, const struct sparq_dataset *ds, int max_frames, int beam,
                         char **hyps);
// Data-parallel decoding (sparq_dist.h): the same length-sorted batches as
// sparq_decode_dataset() are dealt round-robin to the ranks (batch i to rank
// i % size), so each batch - and each hypothesis - is computed exactly as in
// one process. Rank 0 gathers every hypothesis into hyps; on other ranks hyps
// holds only their own share (NULL elsewhere). On an error with several ranks
// the job is ended (sparq_dist_abort) since the others would wait for it.
int sparq_decode_dataset_dist(struct sparq_model *m, const struct sparq_dataset *ds, int max_frames, int beam,
                              char **hyps);

// ---- training ------------------------------------------------------------
// Hooks around each training step (compression-aware fine-tuning uses them;
// see sparq_finetune.h). Any may be NULL. A negative return aborts training.
struct sparq_train_hooks {
    void *ctx;
    int (*pre_forward)(void *ctx, struct sparq_model *m, int64_t step); // before forward (also before dev eval)
    void (*pre_step)(void *ctx, struct sparq_model *m);                  // after backward, before clipping/AdamW
    void (*after_eval)(void *ctx, struct sparq_model *m);                // after a dev eval forward
    int (*save)(void *ctx, const char *out_dir);                         // with every checkpoint
    int (*load)(void *ctx, const char *out_dir);                         // on --resume
    // After the CTC loss of a training batch, before backward: may add a term
    // to *loss and its gradient to dlogits (B, T2, V), e.g. distillation from
    // a teacher run on the same features (B, T, n_mels) and input lens.
    int (*post_loss)(void *ctx, const float *feats, const int *lens, int B, int T, const float *logits,
                     const int *out_lens, int T2, int V, float *dlogits, double *loss);
};

struct sparq_train_options {
    const char *config_path;  // NULL: defaults (ignored when resuming)
    const char *train_manifest;
    const char *dev_manifest; // may be NULL
    const char *out_dir;      // checkpoints, model, logs
    int resume;               // continue from out_dir/last.ckpt
    int epochs;
    int64_t max_steps;        // stop (saving a checkpoint) after this many steps in total; 0 = no limit
    int batch_frames;         // padded input frames per batch
    int max_utts;             // utterances per batch at most
    float lr, final_lr_ratio, weight_decay, clip;
    int64_t warmup;           // steps
    uint64_t seed;
    int specaug;              // 1: SpecAugment on training features
    float dither;
    int64_t save_every;       // checkpoint every N steps (0: only per epoch / at stop)
    int dev_max_utts;         // 0: all
    int progress;             // progress lines on stderr
    volatile sig_atomic_t *stop; // set (e.g. by SIGINT) to save and return early
    const char *init_from;    // start from this model (weights, BN stats, CMVN) instead of a fresh init
    const struct sparq_train_hooks *hooks;
};
void sparq_train_default_options(struct sparq_train_options *o);
// Installs SIGINT/SIGTERM handlers that set the returned flag: point
// o->stop at it so Ctrl-C saves a checkpoint and returns (train, finetune).
volatile sig_atomic_t *sparq_train_stop_on_signals(void);
// A second signal exits at once (status 128 + signal) without saving.
// Steps with a non-finite loss or gradient norm are skipped; this many in a
// row end the run with an error (nothing saved: last.ckpt is the last good one).
#define SPARQ_TRAIN_MAX_NONFINITE 10
// Returns SPARQ_OK when all epochs are done, 1 when stopped early (max_steps
// or *stop) after saving out_dir/last.ckpt, or a negative error code. A failed
// write of train_log.tsv is an error (the run stops; last.ckpt is kept). On
// --resume the checkpoint is trusted over the log (a shorter log is kept, with
// a warning) and each setting that differs from the checkpoint's is warned about.
// out_dir/train_log.tsv gets one line per step: step epoch loss grad_norm lr.
// out_dir/model.sparq is the model with the best dev WER (or the last one
// without a dev set).
int sparq_train_run(const struct sparq_train_options *o);

// Training-step benchmark on a synthetic batch (the same batch as
// tests/fixtures/bench_conformer_torch.py): B utterances of 400 - 8*b input
// frames, targets of frames/10 labels. One warm-up step, then `steps` timed
// steps of forward + CTC + backward + clip + AdamW.
// Under mpirun the batch is split across the ranks as in training (the
// gradient allreduce and BatchNorm sums included); rank 0's numbers.
struct sparq_bench_result {
    int B, steps;
    int ranks;           // MPI ranks sharing the batch (1 without MPI)
    double comm_s;       // wall seconds per step in the gradient allreduce (mean over ranks)
    double wait_s;       // wall seconds per step waiting for the slowest rank before it (mean over ranks)
    double audio_s;      // audio seconds per batch
    double step_s;       // mean wall seconds per step
    double audio_per_s;  // audio seconds per wall second
    double peak_rss_mb;  // peak resident memory of the process
    double loss_first, loss_last;
};
void sparq_bench_batch(int B, int *lens, int *target_lens);
int sparq_train_bench(const struct sparq_config *c, int B, int steps, struct sparq_bench_result *r);
#endif
