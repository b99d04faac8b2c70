// The decode-only Conformer block (issue 18): eval mode needs no activation
// kept for backward, so every block reuses the buffers of struct
// sparq_eval_bufs; a decode touches (and page-faults) them once, not once per
// layer. Every op below is the one conformer.c's block_forward runs with
// training = 0 (dropout is off in eval mode), in the same order, on the same
// inputs; only where results are stored differs. In-place use is limited to
// element-wise ops (SiLU, the residual adds) whose result per element does
// not depend on aliasing, and the attention weights live in a per-thread
// T x T scratch instead of a kept (B, H, T, T) array.
#include "forward_eval.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "sparq_layers.h"

static void residual_add(float *x, const float *y, float s, size_t n)
{
    // conformer.c's add_scaled(out, x, y, s, n) with out == x.
#pragma omp parallel for if (n > 65536)
    for (size_t i = 0; i < n; i++)
        x[i] = x[i] + s * y[i];
}

// layers.c's attention_forward with the weights of each (utterance, head)
// in the running thread's T x T scratch instead of a kept (B, H, T, T) array
// (nothing reads them after the head's output): the same attention_head on
// the same operands, so the same output.
static void attention_eval(float *out, float *scratch, int nt, const float *qkv, const int *lens, int B, int T,
                           int d, int H)
{
    int dh = d / H, ld = 3 * d;
    float scale = 1.0f / sqrtf((float)dh);
#pragma omp parallel for collapse(2) schedule(dynamic) num_threads(nt)
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < H; h++) {
            int L = lens[b];
            const float *q = qkv + (size_t)b * T * ld + h * dh;
            float *P = scratch + (size_t)omp_get_thread_num() * T * T;
            attention_head(out + (size_t)b * T * d + h * dh, P, q, L, T, d, dh, scale);
        }
    }
}

// x += 0.5 * FFN(x): LayerNorm -> Linear -> SiLU -> Linear. A hook that
// runs the whole FFN in W1's call (an integer FFN chain) says so with
// SPARQ_LINEAR_NO_ACT: it left the (N, F) hidden layer unwritten and W2's
// call returns the FFN's output, so the SiLU over it is skipped.
static void ffn_eval(const struct sparq_linear_hook *hook, struct sparq_eval_bufs *e, const float *lnw,
                     const float *lnb, const float *w1, const float *b1, const float *w2, const float *b2, int N,
                     int d, int F)
{
    layernorm_forward(e->ln, e->mean, e->rstd, e->x, lnw, lnb, N, d);
    int r = hook && hook->fn ? hook->fn(hook->ctx, e->big, e->ln, w1, b1, N, d, F) : 0;
    if (!r)
        linear_forward(e->big, e->ln, w1, b1, N, d, F);
    if (r != SPARQ_LINEAR_NO_ACT)
        silu_forward(e->big, e->big, (size_t)N * F);
    linear_forward_hooked(hook, e->tmp, e->big, w2, b2, N, F, d);
    residual_add(e->x, e->tmp, 0.5f, (size_t)N * d);
}

void sparq_block_forward_eval(struct sparq_model *m, int l, struct sparq_eval_bufs *e, const int *lens, int B,
                              int T2)
{
    const struct sparq_config *c = &m->cfg;
    const struct sparq_layer_params *p = &m->p.layer[l];
    const struct sparq_linear_hook *hook = &m->hooks.linear;
    int N = B * T2, d = c->d_model, F = c->ffn_dim;
    size_t Nd = (size_t)N * d;

    ffn_eval(hook, e, p->ffn1_ln_w, p->ffn1_ln_b, p->ffn1_w1, p->ffn1_b1, p->ffn1_w2, p->ffn1_b2, N, d, F);

    // Self-attention: ln -> q|k|v in big -> heads' output in ln (its input is spent).
    layernorm_forward(e->ln, e->mean, e->rstd, e->x, p->att_ln_w, p->att_ln_b, N, d);
    linear_forward_hooked(hook, e->big, e->ln, p->att_in_w, p->att_in_b, N, d, 3 * d);
    attention_eval(e->ln, e->att, e->nt, e->big, lens, B, T2, d, c->n_heads);
    linear_forward_hooked(hook, e->tmp, e->ln, p->att_out_w, p->att_out_b, N, d, d);
    residual_add(e->x, e->tmp, 1.0f, Nd);

    // Convolution module: ln -> pw1 (big) -> GLU (ln) -> depthwise (tmp) -> BN (ln) -> SiLU (ln) -> pw2 (tmp).
    layernorm_forward(e->ln, e->mean, e->rstd, e->x, p->conv_ln_w, p->conv_ln_b, N, d);
    linear_forward_hooked(hook, e->big, e->ln, p->conv_pw1_w, p->conv_pw1_b, N, d, 2 * d);
    glu_forward(e->ln, e->big, N, d);
    dwconv_forward(e->tmp, e->ln, p->conv_dw_w, p->conv_dw_b, lens, B, T2, d, c->kernel);
    batchnorm_forward(e->ln, e->bn_mean, e->bn_rstd, e->tmp, p->conv_bn_w, p->conv_bn_b, m->buf.bn_mean[l],
                      m->buf.bn_var[l], lens, B, T2, d, 0, &m->hooks.batch_sum);
    silu_forward(e->ln, e->ln, Nd);
    linear_forward_hooked(hook, e->tmp, e->ln, p->conv_pw2_w, p->conv_pw2_b, N, d, d);
    residual_add(e->x, e->tmp, 1.0f, Nd);

    ffn_eval(hook, e, p->ffn2_ln_w, p->ffn2_ln_b, p->ffn2_w1, p->ffn2_b1, p->ffn2_w2, p->ffn2_b2, N, d, F);

    layernorm_forward(e->ln, e->mean, e->rstd, e->x, p->final_ln_w, p->final_ln_b, N, d);
    float *t = e->x;
    e->x = e->ln;
    e->ln = t;
}
