// Private to host/src/compress/finetune*.c: the compressor's state.
#ifndef SPARQ_FINETUNE_INTERNAL_H
#define SPARQ_FINETUNE_INTERNAL_H

#include "sparq_finetune.h"
#include "sparq_chain.h"
#include "sparq_readout.h"

struct ft_tensor {
    int index;               // in the model's tensor table
    int out, in;
    struct sparq_layer_setting s;
    int kept_now;            // current N (GRADUAL may be above the target)
    uint8_t *mask;           // (out, in)
    float *scales;           // (out)
    float *master;           // (out, in) float weights the optimizer owns
    float *dscale, *sm, *sv; // LSQ gradient and Adam moments (out)
    // Simulated int8 read-out (o.readout_q8, packed tensors only; NULL otherwise).
    float *codes;            // (out, in) the weight codes of this step's fake quantization
    float *rq_ema;           // (out) EMA of the per-step max |acc| * s_w: clip level over s_w
    float *rq_step;          // (out) max |acc| * s_w seen since the step's pre_forward
    float *rq_clip;          // (out) exported clip level in accumulator units: rq_ema / s_w, >= 1
    int rq_ready;            // rq_ema holds at least one training step
    int rq_seen;             // rq_step holds at least one call
    int chain;               // index into the compressor's chains (o.chain), -1 if not part of one
};

// One feed-forward module simulated as the device's chain (o.chain,
// finetune_chain.c): static scales A_in, A_1 calibrated like the read-out's
// clip levels (EMA of per-step maxima), W2's read-out clip its own.
struct ft_chain {
    int w1, w2;              // indices into the compressor's tensors
    float ema_in, ema_1;     // EMA of the per-step max |W1 input| and max |W1 pre-activation|
    float step_in, step_1;   // maxima since the step's pre_forward
    int ready, seen;
    float a_in, a_1;         // the clips the forward uses and export writes (once ready)
    struct sparq_chain_ffn p;
    int8_t *q1;              // W1's output codes of the last call, for W2 (NULL until then)
    size_t q1_cap;
    int q1_rows;             // rows in q1, -1 once W2 consumed them
};

struct act_hook_ctx {
    struct sparq_compressor *c;
    const struct sparq_model *m;
};

struct sparq_compressor {
    struct sparq_finetune_options o;
    struct act_hook_ctx act; // the linear hook's context (o.act_quant)
    int n;
    struct ft_tensor *t;
    const uint8_t **mask_ptrs; // (n_tensors) for export overrides
    const float **scale_ptrs;
    const float **clip_ptrs;   // (n_tensors) read-out clip levels once calibrated
    int n_chain;
    struct ft_chain *chain;    // (n_chain) o.chain
    int n_tensors;
    int64_t lsq_t;
    int64_t step;              // the step of the last pre_forward
    int masks_ready;
    float *grad_copy; // (largest compressed tensor) scratch of pre_step
};

int ft_frozen(const struct sparq_compressor *c, int64_t step);

// finetune_readout.c: the simulated read-out (o.readout_q8).
int ft_readout_alloc(struct ft_tensor *t);
void ft_readout_free(struct ft_tensor *t);
// After the step's fake quantization: the weight codes; forgets what an
// evaluation forward saw.
void ft_readout_pre_forward(struct ft_tensor *t, const float *wq);
// The linear hook's work for tensor t: out = the device's q8 path.
// Returns 1 when it computed out, 0 to fall back (out of memory).
int ft_readout_linear(struct ft_tensor *t, float *out, const float *inp, const float *b, int N);
// After a training step's backward: folds the step's maxima into the EMA
// (unless frozen) and refreshes the exported clip levels.
void ft_readout_post_step(struct sparq_compressor *c, int i);
// Compressor state sections (resume).
int ft_readout_save(const struct sparq_compressor *c, struct sparq_mfile *f);
int ft_readout_load(struct sparq_compressor *c, const struct sparq_mfile *f);
// Clip level (accumulator units) from a maximum over s_w, as the model file stores it.
float ft_readout_clip(double level, float s_w);

// finetune_chain.c: the FFN chains (o.chain).
int ft_chain_create(struct sparq_compressor *c, const struct sparq_model *m);
void ft_chain_free(struct sparq_compressor *c);
void ft_chain_pre_forward(struct sparq_compressor *c);
// The linear hook's work for a chained W1 / W2. Return 1 when they computed out.
int ft_chain_w1(struct sparq_compressor *c, struct ft_tensor *t, float *out, const float *inp, const float *b, int N);
int ft_chain_w2(struct sparq_compressor *c, struct ft_tensor *t, float *out, const float *inp, const float *b, int N);
void ft_chain_post_step(struct sparq_compressor *c);
int ft_chain_save(const struct sparq_compressor *c, struct sparq_mfile *f);
int ft_chain_load(struct sparq_compressor *c, const struct sparq_mfile *f);

#endif
