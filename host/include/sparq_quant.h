// sparq-layer: compress
// Compression-aware training primitives: fake quantization with a
// straight-through estimator, per-channel scale choice (max-abs, MSE
// clipping, learned step size) and N:M masks. Forward passes use exactly the
// rounding of the packer, so fake_quant(W) == unpack(pack(W)) bit for bit.
#ifndef SPARQ_QUANT_H
#define SPARQ_QUANT_H

#include <stdint.h>

#include "sparq_format.h"

enum sparq_scale_method {
    SPARQ_SCALE_MAXABS = 0, // maxabs / qmax (sparq_maxabs_scale)
    SPARQ_SCALE_MSE = 1,    // clipping ratio that minimises the squared error
    SPARQ_SCALE_LSQ = 2,    // learned step size: initialised by MSE, then trained
};

// Width and grid of one weight matrix's quantizer.
struct sparq_quantizer {
    int width;              // 8, 4, 2; 0 = float (no quantization)
    enum sparq_grid grid;
};

int sparq_quant_qmin(const struct sparq_quantizer *q);
int sparq_quant_qmax(const struct sparq_quantizer *q);

// Per-channel scales (out) for W (out, in) over the kept weights (mask may be
// NULL = all kept). MSE searches clipping ratios 1.00, 0.99, ..., 0.20 of
// max-abs; the first (largest) ratio with the smallest error wins.
void sparq_quant_scales(float *scales, const float *w, const uint8_t *mask, int out, int in,
                        const struct sparq_quantizer *q, enum sparq_scale_method method);

// wq = mask ? code(w) * scale : 0, code = sparq_quantize_value (round half to
// even, clamp). With width 0 it only applies the mask.
void sparq_fake_quant_forward(float *wq, const float *w, const uint8_t *mask, const float *scales, int out, int in,
                              const struct sparq_quantizer *q);

// How gradients reach pruned weights.
enum sparq_mask_grad {
    SPARQ_MASK_GRAD_MASKED = 0, // pruned weights get no gradient (fixed masks)
    SPARQ_MASK_GRAD_STE = 1,    // straight through the mask (masks may change)
    SPARQ_MASK_GRAD_SRSTE = 2,  // STE plus decay lambda * w on pruned weights (SR-STE)
};

// Straight-through backward: dw += dwq where the weight is kept and inside
// the clipping range [qmin*s, qmax*s] (the rounding passes gradient, the clamp
// does not); pruned weights follow mask_grad. If dscales is not NULL, adds
// the LSQ gradient of the scales: dwq * (code - w/s) inside the range, dwq *
// qmin or qmax outside, times the LSQ gradient scale 1/sqrt(kept * qmax).
// Accumulates (+=) into dw and dscales.
void sparq_fake_quant_backward(float *dw, float *dscales, const float *dwq, const float *w, const uint8_t *mask,
                               const float *scales, int out, int in, const struct sparq_quantizer *q,
                               enum sparq_mask_grad mask_grad, float srste_lambda);

// The runtime's dynamic per-row activation scale: max|x| / 127 (1 for an
// all-zero row). Fine-tuning's activation fake-quant uses the same rule.
float sparq_act_row_scale(const float *x, int n);

// Symmetric per-tensor int8 fake quantization of activations, the same
// rounding as the integer runtime: code = clamp(rint(x / scale), -127, 127).
void sparq_fake_quant_act(float *xq, const float *x, int n, float scale);

#endif
