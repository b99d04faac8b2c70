// sparq-layer: model
// sparq's float Conformer-CTC model (docs/model.md):
//   fbank (B, T, n_mels) -> Conv2d 3x3/2 + ReLU -> Conv2d 3x3/2 + ReLU
//   -> Linear(F2*C -> d) -> n_layers Conformer blocks (torchaudio layout)
//   (subsampling = dwsep4: the second conv is a depthwise 3x3/2 then a
//   pointwise 1x1, FastConformer's front-end at 4x)
//   -> Linear(d -> vocab) -> CTC.
// All parameters live in one allocation carved into struct sparq_params by
// the tensor tables below; gradients and AdamW moments use the same layout.
#ifndef SPARQ_MODEL_H
#define SPARQ_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "sparq_layers.h"

#define SPARQ_MAX_LAYERS 32
#define SPARQ_VOCAB 29 // 0 blank, 1 space, 2 apostrophe, 3..28 'a'..'z'

// Front-end kinds (config key `subsampling`).
enum sparq_subsampling {
    SPARQ_SUB_CONV2D, // two dense 3x3/2 convs (the default; every model before it)
    SPARQ_SUB_DWSEP4, // dense 3x3/2, then depthwise 3x3/2 + pointwise 1x1: 4x, far fewer MACs
};

struct sparq_config {
    int n_mels;       // input feature bins (80)
    int sub_channels; // channels of both subsampling convs (C)
    int d_model;      // d
    int n_heads;      // attention heads, d % n_heads == 0
    int ffn_dim;      // feed-forward hidden size
    int kernel;       // depthwise conv kernel, odd
    int n_layers;     // Conformer blocks
    int vocab;        // output symbols incl. blank (29)
    // Training only (config key `dropout`, default 0): inverted dropout
    // probability at torchaudio's places (FFN hidden and output, after the
    // attention out-projection, end of the conv module). Not part of the model
    // file: sparq_config_format() leaves it out, so models and checkpoints are
    // unchanged, and `sparq train --resume` takes it from --config again.
    float dropout;
    int subsampling; // enum sparq_subsampling; the config text names it only when not conv2d
};

// Frequency bins after each stride-2 3x3 conv without padding.
static inline int sparq_sub_f1(const struct sparq_config *c) { return (c->n_mels - 1) / 2; }
static inline int sparq_sub_f2(const struct sparq_config *c) { return (sparq_sub_f1(c) - 1) / 2; }
// Frames after subsampling: T1 = (T-1)/2, T2 = (T1-1)/2 (0 when too short).
static inline int sparq_sub_len1(int t) { return t >= 3 ? (t - 1) / 2 : 0; }
static inline int sparq_sub_frames(int t) { int t1 = sparq_sub_len1(t); return t1 >= 3 ? (t1 - 1) / 2 : 0; }

// 1 if the front-end is `c`'s kind k: tensors of the other kind have 0 elements
// and are left out of the table (conv2d tables are as they always were).
static inline size_t sparq_sub_is(const struct sparq_config *c, int k) { return c->subsampling == k; }

// Initialisation kinds (PyTorch defaults): W/B uniform(+-1/sqrt(fan_in)),
// ONE/ZERO constants. Only W tensors get AdamW weight decay.
enum sparq_init { SPARQ_INIT_W, SPARQ_INIT_B, SPARQ_INIT_ONE, SPARQ_INIT_ZERO };

// The ONE table of parameter tensors: X(name, element count, fan_in, init).
// `c` is a const struct sparq_config *. Shapes are in the field comments of
// struct sparq_params / sparq_layer_params.
#define SPARQ_SUB_DENSE(c) sparq_sub_is(c, SPARQ_SUB_CONV2D)
#define SPARQ_SUB_DWS(c) sparq_sub_is(c, SPARQ_SUB_DWSEP4)
#define SPARQ_GLOBAL_TENSORS(X, c)                                                                  \
    X(sub1_w, (size_t)(c)->sub_channels * 9, 9, SPARQ_INIT_W)                                      \
    X(sub1_b, (size_t)(c)->sub_channels, 9, SPARQ_INIT_B)                                          \
    X(sub2_w, SPARQ_SUB_DENSE(c) * (c)->sub_channels * 9 * (c)->sub_channels, 9 * (c)->sub_channels, \
      SPARQ_INIT_W)                                                                                 \
    X(sub2_b, SPARQ_SUB_DENSE(c) * (c)->sub_channels, 9 * (c)->sub_channels, SPARQ_INIT_B)         \
    X(sub2_dw_w, SPARQ_SUB_DWS(c) * (c)->sub_channels * 9, 9, SPARQ_INIT_W)                        \
    X(sub2_dw_b, SPARQ_SUB_DWS(c) * (c)->sub_channels, 9, SPARQ_INIT_B)                            \
    X(sub2_pw_w, SPARQ_SUB_DWS(c) * (c)->sub_channels * (c)->sub_channels, (c)->sub_channels,      \
      SPARQ_INIT_W)                                                                                 \
    X(sub2_pw_b, SPARQ_SUB_DWS(c) * (c)->sub_channels, (c)->sub_channels, SPARQ_INIT_B)            \
    X(sub_lin_w, (size_t)(c)->d_model * sparq_sub_f2(c) * (c)->sub_channels,                        \
      sparq_sub_f2(c) * (c)->sub_channels, SPARQ_INIT_W)                                            \
    X(sub_lin_b, (size_t)(c)->d_model, sparq_sub_f2(c) * (c)->sub_channels, SPARQ_INIT_B)

#define SPARQ_FFN_TENSORS(X, c, p)                                                \
    X(p##_ln_w, (size_t)(c)->d_model, 1, SPARQ_INIT_ONE)                          \
    X(p##_ln_b, (size_t)(c)->d_model, 1, SPARQ_INIT_ZERO)                         \
    X(p##_w1, (size_t)(c)->ffn_dim * (c)->d_model, (c)->d_model, SPARQ_INIT_W)    \
    X(p##_b1, (size_t)(c)->ffn_dim, (c)->d_model, SPARQ_INIT_B)                   \
    X(p##_w2, (size_t)(c)->d_model * (c)->ffn_dim, (c)->ffn_dim, SPARQ_INIT_W)    \
    X(p##_b2, (size_t)(c)->d_model, (c)->ffn_dim, SPARQ_INIT_B)

// Attention in-projection follows torch.nn.MultiheadAttention: xavier-uniform
// weight and zero bias there; we use the same uniform bound family (see
// docs/model.md), out-projection bias zero as in PyTorch.
#define SPARQ_LAYER_TENSORS(X, c)                                                       \
    SPARQ_FFN_TENSORS(X, c, ffn1)                                                       \
    X(att_ln_w, (size_t)(c)->d_model, 1, SPARQ_INIT_ONE)                                \
    X(att_ln_b, (size_t)(c)->d_model, 1, SPARQ_INIT_ZERO)                               \
    X(att_in_w, (size_t)3 * (c)->d_model * (c)->d_model, (c)->d_model, SPARQ_INIT_W)    \
    X(att_in_b, (size_t)3 * (c)->d_model, 1, SPARQ_INIT_ZERO)                           \
    X(att_out_w, (size_t)(c)->d_model * (c)->d_model, (c)->d_model, SPARQ_INIT_W)       \
    X(att_out_b, (size_t)(c)->d_model, 1, SPARQ_INIT_ZERO)                              \
    X(conv_ln_w, (size_t)(c)->d_model, 1, SPARQ_INIT_ONE)                               \
    X(conv_ln_b, (size_t)(c)->d_model, 1, SPARQ_INIT_ZERO)                              \
    X(conv_pw1_w, (size_t)2 * (c)->d_model * (c)->d_model, (c)->d_model, SPARQ_INIT_W)  \
    X(conv_pw1_b, (size_t)2 * (c)->d_model, (c)->d_model, SPARQ_INIT_B)                 \
    X(conv_dw_w, (size_t)(c)->kernel * (c)->d_model, (c)->kernel, SPARQ_INIT_W)         \
    X(conv_dw_b, (size_t)(c)->d_model, (c)->kernel, SPARQ_INIT_B)                       \
    X(conv_bn_w, (size_t)(c)->d_model, 1, SPARQ_INIT_ONE)                               \
    X(conv_bn_b, (size_t)(c)->d_model, 1, SPARQ_INIT_ZERO)                              \
    X(conv_pw2_w, (size_t)(c)->d_model * (c)->d_model, (c)->d_model, SPARQ_INIT_W)      \
    X(conv_pw2_b, (size_t)(c)->d_model, (c)->d_model, SPARQ_INIT_B)                     \
    SPARQ_FFN_TENSORS(X, c, ffn2)                                                       \
    X(final_ln_w, (size_t)(c)->d_model, 1, SPARQ_INIT_ONE)                              \
    X(final_ln_b, (size_t)(c)->d_model, 1, SPARQ_INIT_ZERO)

#define SPARQ_HEAD_TENSORS(X, c)                                                   \
    X(out_w, (size_t)(c)->vocab * (c)->d_model, (c)->d_model, SPARQ_INIT_W)        \
    X(out_b, (size_t)(c)->vocab, (c)->d_model, SPARQ_INIT_B)

// Shapes (row-major, outputs first):
//   sub1_w (C, 3, 3, 1)   sub2_w (C, 3, 3, C)   [kh, kw, c_in] innermost, channel-last
//   dwsep4 instead of sub2_w/b: sub2_dw_w (C, 3, 3) (PyTorch's (C, 1, 3, 3)),
//   sub2_dw_b (C), sub2_pw_w (C_out, C_in) (a 1x1 conv), sub2_pw_b (C)
//   sub_lin_w (d, F2*C)   input index f*C + c (channel-last flatten)
//   ffnX_w1 (ffn, d)  ffnX_w2 (d, ffn)  att_in_w (3d, d) rows q|k|v
//   att_out_w (d, d)  conv_pw1_w (2d, d) rows value|gate  conv_dw_w (K, d)
//   conv_pw2_w (d, d) out_w (vocab, d); every *_b / *_ln_* / conv_bn_* is (its rows)
#define SPARQ_FIELD(name, n, fan, init) float *name;
struct sparq_layer_params {
    SPARQ_LAYER_TENSORS(SPARQ_FIELD, (const struct sparq_config *)0)
};
struct sparq_params {
    SPARQ_GLOBAL_TENSORS(SPARQ_FIELD, (const struct sparq_config *)0)
    struct sparq_layer_params layer[SPARQ_MAX_LAYERS];
    SPARQ_HEAD_TENSORS(SPARQ_FIELD, (const struct sparq_config *)0)
};
#undef SPARQ_FIELD

// Non-trainable state (one allocation): BatchNorm running statistics per layer
// and the global CMVN of the input features.
struct sparq_buffers {
    float *bn_mean[SPARQ_MAX_LAYERS]; // (d)
    float *bn_var[SPARQ_MAX_LAYERS];  // (d)
    float *cmvn_mean;                 // (n_mels)
    float *cmvn_istd;                 // (n_mels) 1/std
};

// One entry of the flattened tensor list (table order = memory order).
struct sparq_tensor_info {
    char name[48];
    size_t offset; // in floats from the start of the parameter memory
    size_t size;
    int fan_in;
    enum sparq_init init;
};

// What sparq_forward/sparq_backward hand their matmuls and BatchNorm sums to
// (sparq_layers.h). Zero (as sparq_model_create leaves them): float, one
// process. Set by whoever owns the model for a pass: the runtime while
// activated, fine-tuning's activation quantization, data-parallel training.
struct sparq_model_hooks {
    struct sparq_linear_hook linear;
    struct sparq_batch_sum batch_sum;
    struct sparq_conv_hook conv; // the subsampling convs (conformer.c), beside linear
};
#define SPARQ_MODEL_HOOKS_CONV 1

struct sparq_model {
    struct sparq_config cfg;
    struct sparq_model_hooks hooks;
    size_t n_params;
    int n_tensors;
    struct sparq_tensor_info *tensors; // (n_tensors)
    float *param_mem;                  // (n_params)
    float *grad_mem;                   // (n_params)
    struct sparq_params p;             // views into param_mem
    struct sparq_params g;             // views into grad_mem (same layout)
    size_t n_buffers;
    float *buffer_mem;
    struct sparq_buffers buf;
    // Seed of the dropout masks of the next training forward (the trainer
    // sets it per step, so a run replays); unused when cfg.dropout is 0.
    uint64_t dropout_seed;
};

// Checks the config; message names the bad key.
int sparq_config_validate(const struct sparq_config *c);
// Default configuration (= configs/base.cfg): d=144, 4 heads, ffn 576, kernel 15, 4 layers.
void sparq_config_default(struct sparq_config *c);
// Reads "key = value" lines (# comments) over the defaults. Keys: n_mels,
// sub_channels, d_model, n_heads, ffn_dim, kernel, n_layers (integers),
// dropout (a number in [0, 1)), subsampling (conv2d or dwsep4).
// Reads at most SPARQ_CONFIG_MAX_BYTES (a longer file, /dev/zero or an
// endless pipe is an error); a key given twice, NUL bytes or an unknown key
// is an error naming the file and line.
#define SPARQ_CONFIG_MAX_BYTES (64 * 1024)
int sparq_config_load(struct sparq_config *c, const char *path);
// The same from `len` bytes of text; `name` (a path) starts every message.
int sparq_config_parse(struct sparq_config *c, const char *text, size_t len, const char *name);
int sparq_config_format(const struct sparq_config *c, char *dst, size_t cap);
// "conv2d", "dwsep4" ("?" for a value out of range).
const char *sparq_subsampling_name(int kind);
// The compressed path (export, the integer runtime, compression-aware
// fine-tuning, the budget search) knows only the conv2d front-end: an error
// naming the key for any other, `what` (a command or file) first.
int sparq_config_check_compressible(const struct sparq_config *c, const char *what);

// Number of floats the table gives for `c`; fills `out` (may be NULL).
int sparq_tensor_table(const struct sparq_config *c, struct sparq_tensor_info *out, size_t *n_params);
// Points every field of `p` into `mem` following the table (NULL: a tensor
// the config leaves out).
void sparq_params_bind(const struct sparq_config *c, struct sparq_params *p, float *mem);

int sparq_model_create(struct sparq_model *m, const struct sparq_config *c);
void sparq_model_free(struct sparq_model *m);
// PyTorch-default initialisation from `seed`; BN running stats 0/1, CMVN 0/1.
void sparq_model_init(struct sparq_model *m, uint64_t seed);
void sparq_model_zero_grad(struct sparq_model *m);

// Activations kept for backward: one allocation, laid out per batch. Created
// for (B utterances, T input frames); sparq_forward grows it when a batch
// needs more (sparq_acts_reserve does that ahead of time).
struct sparq_acts;
struct sparq_acts *sparq_acts_create(const struct sparq_config *c, int B, int T);
int sparq_acts_reserve(struct sparq_acts *a, int B, int T);
// Eval-only (decode) activations: sparq_forward with training = 0 keeps no
// layer's activations but reuses a few buffers across the blocks (same
// logits, bit for bit, through the same linear hook; far less memory and no
// fresh pages per layer). A training forward on them is an error and
// sparq_backward on them aborts. sparq_acts_reserve grows them as above:
// reserve the largest batch first and decoding touches new memory only once.
struct sparq_acts *sparq_acts_create_eval(const struct sparq_config *c, int B, int T);
void sparq_acts_free(struct sparq_acts *a);

// Forward pass. feats (B, T, n_mels) already normalised (CMVN applied),
// lens (B) valid input frames. training != 0 uses batch statistics in
// BatchNorm (over valid frames only) and updates the running statistics, and
// applies dropout (cfg.dropout, masks from m->dropout_seed); eval mode never drops.
// Writes logits (B, T2max, vocab) and out_lens (B); returns T2max or a
// negative error code. Frames at or past out_lens[b] hold unspecified values.
int sparq_forward(struct sparq_model *m, struct sparq_acts *a, const float *feats, const int *lens,
                  int B, int T, int training);
const float *sparq_acts_logits(const struct sparq_acts *a); // (B, T2max, vocab)
const int *sparq_acts_out_lens(const struct sparq_acts *a); // (B)
// Adds d(loss)/d(params) into m->grad_mem given dlogits (B, T2max, vocab),
// which must be zero at padded frames. Must follow sparq_forward(training).
void sparq_backward(struct sparq_model *m, struct sparq_acts *a, const float *dlogits);

// Applies the model's CMVN to raw fbank rows in place: (x - mean) * istd.
void sparq_apply_cmvn(const struct sparq_model *m, float *feats, int frames);

// Sets OpenBLAS to one thread (parallelism comes from OpenMP; see docs/model.md).
void sparq_threads_init(void);

#endif
