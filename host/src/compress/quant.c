// Fake quantization, straight-through gradients, scale selection.
#include "sparq_quant.h"

#include <math.h>
#include <stdlib.h>

#include "sparq_gemm_act.h"

int sparq_quant_qmax(const struct sparq_quantizer *q) { return (1 << (q->width - 1)) - 1; }
int sparq_quant_qmin(const struct sparq_quantizer *q)
{
    return q->grid == SPARQ_GRID_FULL ? -(1 << (q->width - 1)) : -sparq_quant_qmax(q);
}

static double row_error(const float *w, const uint8_t *m, int in, float scale, const struct sparq_quantizer *q)
{
    double err = 0;
    for (int k = 0; k < in; k++)
        if (!m || m[k]) {
            float wq = (float)sparq_quantize_value(w[k], scale, q->width, q->grid) * scale;
            err += (double)(w[k] - wq) * (w[k] - wq);
        }
    return err;
}

void sparq_quant_scales(float *scales, const float *w, const uint8_t *mask, int out, int in,
                        const struct sparq_quantizer *q, enum sparq_scale_method method)
{
    for (int o = 0; o < out; o++) {
        const float *row = w + (size_t)o * in;
        const uint8_t *m = mask ? mask + (size_t)o * in : NULL;
        float base = sparq_maxabs_scale(row, m, in, q->width, q->grid);
        if (method == SPARQ_SCALE_MAXABS) {
            scales[o] = base;
            continue;
        }
        float best = base;
        double best_err = row_error(row, m, in, base, q);
        for (int r = 99; r >= 20; r--) {
            float s = base * (float)r / 100.0f;
            double e = row_error(row, m, in, s, q);
            if (e < best_err) {
                best_err = e;
                best = s;
            }
        }
        scales[o] = best;
    }
}

void sparq_fake_quant_forward(float *wq, const float *w, const uint8_t *mask, const float *scales, int out, int in,
                              const struct sparq_quantizer *q)
{
    for (int o = 0; o < out; o++)
        for (int k = 0; k < in; k++) {
            size_t i = (size_t)o * in + k;
            if (mask && !mask[i])
                wq[i] = 0.0f;
            else if (q->width == 0)
                wq[i] = w[i];
            else
                wq[i] = (float)sparq_quantize_value(w[i], scales[o], q->width, q->grid) * scales[o];
        }
}

void sparq_fake_quant_backward(float *dw, float *dscales, const float *dwq, const float *w, const uint8_t *mask,
                               const float *scales, int out, int in, const struct sparq_quantizer *q,
                               enum sparq_mask_grad mask_grad, float srste_lambda)
{
    const int quantized = q->width != 0;
    const float qmin = quantized ? (float)sparq_quant_qmin(q) : 0, qmax = quantized ? (float)sparq_quant_qmax(q) : 0;
    for (int o = 0; o < out; o++) {
        const float s = quantized ? scales[o] : 1.0f;
        int kept = 0;
        double ds = 0;
        for (int k = 0; k < in; k++) {
            size_t i = (size_t)o * in + k;
            if (mask && !mask[i]) {
                if (mask_grad != SPARQ_MASK_GRAD_MASKED)
                    dw[i] += dwq[i];
                if (mask_grad == SPARQ_MASK_GRAD_SRSTE)
                    dw[i] += srste_lambda * w[i];
                continue;
            }
            kept++;
            if (!quantized) {
                dw[i] += dwq[i];
                continue;
            }
            float v = w[i] / s;
            if (v >= qmin && v <= qmax) {
                dw[i] += dwq[i];
                ds += (double)dwq[i] * (rintf(v) - v);
            } else
                ds += (double)dwq[i] * (v < qmin ? qmin : qmax);
        }
        if (dscales && quantized && kept > 0)
            dscales[o] += (float)(ds / sqrt((double)kept * qmax));
    }
}

// Both run the integer runtime's vectorized stages (sparq_gemm_act.h: the
// same bits as the scalar definitions), so fine-tuning's activation
// fake-quant costs what the runtime's quantization does.
float sparq_act_row_scale(const float *x, int n) { return sparq_act_scale(x, n); }

void sparq_fake_quant_act(float *xq, const float *x, int n, float scale)
{
    int8_t codes[256];
    for (int i = 0; i < n; i += 256) {
        int len = n - i < 256 ? n - i : 256;
        sparq_act_quantize(codes, x + i, len, scale);
        // As c * scale with c = the clamped rintf(x / scale): a NaN stays NaN
        // (the runtime's code is 0) and a zero code keeps the quotient's sign.
        for (int j = 0; j < len; j++) {
            float v = x[i + j];
            xq[i + j] = v != v ? v : codes[j] ? (float)codes[j] * scale : copysignf(0.0f, v / scale) * scale;
        }
    }
}
