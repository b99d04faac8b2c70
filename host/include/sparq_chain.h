// sparq-layer: compress
// The feed-forward chain with static scales (issue 16; /work/spec/chain-ml.md,
// docs/compression.md "The FFN chain"): LN -> W1 -> Swish -> W2 runs as one
// device job (sparq_device_chain2) because its input and its hidden
// activation have scales fixed at calibration, so the Swish can be a 256-entry
// table on the device. Per FFN the model file stores A_in (clip of W1's input)
// and A_1 (clip of W1's pre-activation); everything else follows:
//   s_in = A_in / 127, s_1 = A_1 / 127, s_2 = Swish(A_1) / 127
//   x_q  = clamp(rintf(x / s_in), -127, 127)                  (host)
//   q1   = sparq_requant(x_q . w1_code, bias1[o], mult1[o], shift1[o])
//          mult1/shift1 from s_in*s_w1[o]/s_1, bias1[o] = rint(b1[o] / (s_in*s_w1[o]))
//   h    = lut[q1 + 128]                                      (the table)
//   q2   = sparq_requant(h . w2_code, 0, mult2[o], shift2[o]) (W2's q8 read-out, clip A2_o)
//   y    = q2 * (s_2 * deq2[o]) + b2[o]                       (host)
// sparq_chain_make computes every one of these numbers; the cpu backend, the
// device path and fine-tuning's simulation all take them from it.
#ifndef SPARQ_CHAIN_H
#define SPARQ_CHAIN_H

#include <stddef.h>
#include <stdint.h>

#include "sparq_gemm.h"
#include "sparq_modelfile.h"

// Section "chain" (i32[1]) holds the version; each chained FFN's first
// matrix W1 (layerL.ffnK_w1) has "W1.chain" (f32[2] = A_in, A_1).
#define SPARQ_CHAIN_VERSION 1
#define SPARQ_CHAIN_SECTION "chain"
#define SPARQ_CHAIN_SUFFIX ".chain"

// Swish(x) = x / (1 + expf(-x)) in float: the one definition the table uses.
float sparq_chain_swish(float x);

// The integer parameters of one chained FFN (W1: F x d, W2: d x F).
struct sparq_chain_ffn {
    float a_in, a_1;                 // the calibrated clips
    float s_in, s_1, s_2;            // activation scales (above)
    int F, d;
    struct sparq_requant_params *q1; // (F) W1's requant, bias folded in
    int8_t lut[256];                 // Swish table: entry i for code i - 128
    struct sparq_requant_params *q2; // (d) W2's read-out (bias 0), NULL if no clip2 was given
    float *deq2;                     // (d) s_w2[o] * 2^shift / mult (sparq_readout_channel)
};

// Fills c from the clips, W1's weight scales and bias (F), and W2's weight
// scales and read-out clip levels (d, accumulator units; clip2 NULL: q2 and
// deq2 stay NULL, for fine-tuning, which calibrates them itself). Errors
// (SPARQ_EINVAL) name the bad value; frees nothing on error (call _free).
int sparq_chain_make(struct sparq_chain_ffn *c, float a_in, float a_1, const float *s_w1, const float *b1, int F,
                     const float *s_w2, const float *clip2, int d);
void sparq_chain_free(struct sparq_chain_ffn *c);
// The table alone: lut[i] = clamp(rintf(swish((i-128) * s_1) / s_2), -127, 127).
void sparq_chain_lut(int8_t lut[256], float s_1, float s_2);
// W1's bias in accumulator units: rint(b / (s_in * s_w)) in double, clamped to int32.
int32_t sparq_chain_bias(float b, float s_in, float s_w);

// The integer chain on the host, step for step what the device does (the
// reference and the cpu backend's definition): q1 = requant(acc1), the
// table, then y8 (t, d) = requant(h . W2). acc1 (t, F) int32 results of W1,
// h (t, F) scratch, acc2 (t, d) int32 results of W2 computed by the caller
// between the two calls: sparq_chain_hidden then sparq_chain_out.
void sparq_chain_hidden(int8_t *h, const int32_t *acc1, const struct sparq_chain_ffn *c, int t);
void sparq_chain_out(int8_t *y8, const int32_t *acc2, const struct sparq_chain_ffn *c, int t);

// The same chain simulated in float, as fine-tuning and the float backend
// run it: every value is an exact integer while |acc| < 2^24 (int8 codes,
// fan-in up to 1040), so the results equal the integer ones bit for bit.
// acc1 (N, F) = codes(x at s_in) . w1code^T; w1code (F, d) the weight codes.
int sparq_chain_sim_acc1(float *acc1, const float *x, int N, int d, const float *w1code, int F, float s_in);
// q1 (N, F) = requant(acc1) with c->q1, and z (N, F) = q1 * s_1 (W1's output
// as the host sees it; NULL to skip).
void sparq_chain_sim_q1(int8_t *q1, float *z, const float *acc1, const struct sparq_chain_ffn *c, int N);
// W2: h = lut[q1 + 128], acc2 = h . w2code^T (w2code (d, F)); then, when
// c->q2 is set, y (N, d) = q2 * (s_2 * deq2[o]) + b2[o] (sparq_gemm_readout_q8's
// formula). acc2 (N, d) is returned for calibration when not NULL.
int sparq_chain_sim_w2(float *y, float *acc2, const int8_t *q1, const struct sparq_chain_ffn *c, const float *w2code,
                       const float *b2, int N);

// Model file: _add writes the version section (once) and W1.chain.
int sparq_chain_add(struct sparq_mfile *f, const char *w1, float a_in, float a_1);
// Does the file carry chain clips? 0 no, 1 yes; another version is an error.
int sparq_chain_present(const struct sparq_mfile *f, const char *label, int *present);
// W1's clips (*found = 0 when the file has none for it). Errors name the section.
int sparq_chain_get(const struct sparq_mfile *f, const char *label, const char *w1, float *a_in, float *a_1,
                    int *found);
// Is `name` a chain section? 1 for "chain", 2 for "W1.chain" (W1 copied to tensor), else 0.
int sparq_chain_section(const char *name, char *tensor, size_t size);
// The FFN W1 of "layerL.ffnK_w1" -> its W2, b1 and b2 names; 0 if not an FFN W1.
int sparq_chain_names(const char *w1, char *w2, char *b1, char *b2, size_t size);

#endif
