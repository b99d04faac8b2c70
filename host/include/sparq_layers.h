// sparq-layer: model
// Conformer building blocks as forward/backward pairs (llm.c style):
//   x_forward(out, in, params..., dims) / x_backward(dinp, dparams..., dout, saved..., dims)
// Backward ADDS into every gradient it is given (dinp included); a NULL
// gradient pointer skips that gradient. Tensors are row-major; time-major
// sequences are (B, T, C) with lens[b] valid frames, padded frames after.
#ifndef SPARQ_LAYERS_H
#define SPARQ_LAYERS_H

#include <stddef.h>
#include <stdint.h>

// C(M,N) = alpha * op(A) op(B) + beta * C with OpenBLAS, rows of C split
// across the OpenMP threads (OpenBLAS itself runs single-threaded).
void sparq_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc);

// out (N, OUT) = inp (N, IN) w^T (IN, OUT) + b; w (OUT, IN), b (OUT) or NULL.
// The plain float path; it never consults a hook.
void linear_forward(float *out, const float *inp, const float *w, const float *b, int N, int IN, int OUT);
void linear_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                     int N, int IN, int OUT);

// Every weight matmul of the model goes through linear_forward_hooked, so one
// hook lets another implementation take over selected weights (recognised by
// the `w` pointer): the integer runtime runs them on a device, fine-tuning
// fake-quantizes activations. fn returns 1 if it computed `out`, 0 to fall
// back to the float path. It may be called from several OpenMP threads at
// once. The hook travels with the model (struct sparq_model_hooks), never
// through process-wide state, so one forward pass cannot change another's.
typedef int (*sparq_linear_hook_fn)(void *ctx, float *out, const float *inp, const float *w, const float *b, int N,
                                    int IN, int OUT);
// fn may instead return SPARQ_LINEAR_NO_ACT for the first matrix of a module
// it runs whole in that call (an integer FFN chain): out is left unwritten,
// and the activation after it and the next matrix's input are not used (the
// next matrix's call returns the module's output). linear_forward_hooked
// zeroes out for such a return; the eval FFN skips its SiLU.
#define SPARQ_LINEAR_NO_ACT 2
// A 3x3 stride-2 convolution with its ReLU, conv2d_s2_forward's shapes and
// layout (out = relu(conv(inp))), run whole by the hook: it may read the
// im2col rows in place instead of copying them. Returns 1 when it ran it, 0
// to let the caller run im2col, fn and the ReLU.
// Set beside the linear hook (struct sparq_model_hooks' conv, when the model
// header has it: SPARQ_MODEL_HOOKS_CONV).
typedef int (*sparq_conv_relu_hook_fn)(void *ctx, float *out, const float *inp, const float *w, const float *b,
                                       int tout, int Fin, int Cin, int Cout);
struct sparq_conv_hook {
    sparq_conv_relu_hook_fn fn; // NULL: im2col + the linear hook + ReLU
    void *ctx;
};
struct sparq_linear_hook {
    sparq_linear_hook_fn fn; // NULL: float path
    void *ctx;
};
// hook NULL or hook->fn NULL: linear_forward.
void linear_forward_hooked(const struct sparq_linear_hook *hook, float *out, const float *inp, const float *w,
                           const float *b, int N, int IN, int OUT);

// LayerNorm over the last dim C (eps 1e-5). mean, rstd (N) saved for backward.
void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b,
                       int N, int C);
void layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                        const float *mean, const float *rstd, int N, int C);

// SiLU x*sigmoid(x) and ReLU, elementwise over n values.
void silu_forward(float *out, const float *inp, size_t n);
void silu_backward(float *dinp, const float *dout, const float *inp, size_t n);
void relu_forward(float *out, const float *inp, size_t n);
// ReLU backward from its output: dinp += dout where out > 0.
void relu_backward(float *dinp, const float *dout, const float *out, size_t n);

// Inverted dropout in place: element i is kept iff a hash of (seed, i) is
// >= p (as a uniform [0,1) draw) and then scaled by 1/(1-p), else set to 0.
// The mask is a pure function of (seed, i): backward calls the same function
// on the gradient instead of storing the mask, and no thread count changes
// it. p <= 0 leaves x untouched.
void dropout_apply(float *x, size_t n, float p, uint64_t seed);
// The keep decision for element i (what dropout_apply uses).
int dropout_keep(uint64_t seed, size_t i, float p);

// GLU over channels: inp (N, 2C) = [a | g], out (N, C) = a * sigmoid(g).
void glu_forward(float *out, const float *inp, int N, int C);
void glu_backward(float *dinp, const float *dout, const float *inp, int N, int C);

// Multi-head self-attention core (no projections). qkv (B, T, 3d) rows q|k|v,
// heads split d into H slices of d/H; keys at t >= lens[b] are masked.
// att (B, H, T, T) softmax probabilities saved for backward; out (B, T, d);
// rows t >= lens[b] of out are set to 0.
void attention_forward(float *out, float *att, const float *qkv, const int *lens, int B, int T, int d, int H);
void attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att, const int *lens,
                        int B, int T, int d, int H);
// One (utterance, head) of attention_forward (q: that head's slice of the qkv rows, L valid
// frames): P (T x T workspace) gets the probabilities, o (row stride d) the output.
void attention_head(float *o, float *P, const float *q, int L, int T, int d, int dh, float scale);

// Depthwise conv over time, kernel K (odd), 'same' zero padding, applied to
// each utterance alone: frames t >= lens[b] read as zero and are output as 0.
// inp/out (B, T, C), w (K, C), b (C).
void dwconv_forward(float *out, const float *inp, const float *w, const float *b, const int *lens, int B, int T,
                    int C, int K);
void dwconv_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                     const int *lens, int B, int T, int C, int K);

// BatchNorm1d over channels of (B, T, C) with statistics over valid frames
// only (eps 1e-5, momentum 0.1; running var uses the unbiased estimate as
// PyTorch does). training != 0: batch stats, running stats updated; else
// running stats. mean, rstd (C) saved for backward; padded frames output 0.
// Data-parallel training (docs/scaling.md): with a sum hook, training-mode
// statistics are those of the global batch. fn sums a double buffer over all
// replicas in place; it is called twice per forward (sums + frame count, then
// squared deviations) and once per backward (sum dout, sum dout*xhat, frame
// count; dw/db stay this replica's share). A replica with no utterances in a
// step calls the _idle functions once per BatchNorm layer in the same order,
// so every replica makes the same calls. sum NULL or sum->fn NULL: one process.
struct sparq_batch_sum {
    void (*fn)(void *ctx, double *buf, size_t n);
    void *ctx;
};
void batchnorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b,
                       float *run_mean, float *run_var, const int *lens, int B, int T, int C, int training,
                       const struct sparq_batch_sum *sum);
void batchnorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                        const float *mean, const float *rstd, const int *lens, int B, int T, int C, int training,
                        const struct sparq_batch_sum *sum);
void batchnorm_forward_idle(const struct sparq_batch_sum *sum, int C);
void batchnorm_backward_idle(const struct sparq_batch_sum *sum, int C);

// 3x3 stride-2 conv without padding, channel-last, one utterance:
// inp (Tin, Fin, Cin) -> out (Tout, Fout, Cout) with Tout = (Tin-1)/2,
// Fout = (Fin-1)/2; w (Cout, 3, 3, Cin), b (Cout). col is scratch of
// Tout*Fout*9*Cin floats. Only the first `tout` output rows are computed.
// The matmul on the unfolded input goes through `hook` (may be NULL).
void conv2d_s2_forward(const struct sparq_linear_hook *hook, float *out, const float *inp, const float *w,
                       const float *b, float *col, int tout, int Fin, int Cin, int Cout);
// dcol scratch as col; dinp may be NULL (input gradient not needed).
void conv2d_s2_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                        float *col, float *dcol, int tout, int Fin, int Cin, int Cout);

// 3x3 stride-2 depthwise conv without padding, channel-last, one utterance
// (dwsep4's second subsampling conv): inp (Tin, Fin, C) -> out (Tout, Fout, C),
// out[t,f,c] = b[c] + sum_kh,kw w[c,kh,kw] * inp[2t+kh, 2f+kw, c];
// w (C, 3, 3) as PyTorch's (C, 1, 3, 3), b (C). Only the first `tout` rows.
void dwconv2d_s2_forward(float *out, const float *inp, const float *w, const float *b, int tout, int Fin, int C);
// dinp may be NULL. Serial over rows: input rows overlap between t and t+1.
void dwconv2d_s2_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                          int tout, int Fin, int C);

#endif
