// sparq-layer: pack
// The stages around the integer GEMM, vectorized: per-row dynamic int8
// quantization of the input and the read-out of the results into float.
// Each function has one scalar definition (written below); the vector
// versions (AVX2, AVX-512, chosen like the GEMM's path: SPARQ_GEMM_PATH,
// sparq_gemm_set_path) give the same bits on every input.
#ifndef SPARQ_GEMM_ACT_H
#define SPARQ_GEMM_ACT_H

#include <stddef.h>
#include <stdint.h>

#include "sparq_gemm.h"

// Row scale: s = max|x| / 127.0f (float division), 1 for a row whose max is
// 0. NaNs are ignored (fmaxf).
float sparq_act_scale(const float *x, int n);

// Codes of one row: q[k] = clamp(rintf(x[k] / s), -127, 127) (float
// division, round half to even); NaN gives 0.
void sparq_act_quantize(int8_t *q, const float *x, int n, float s);

// Both for `rows` rows: scales[t] = sparq_act_scale(row t), then its codes.
// q has stride ldq >= n, x stride ldx >= n.
void sparq_act_quantize_rows(int8_t *q, int ldq, float *scales, const float *x, int ldx, int rows, int n);

// sparq_act_quantize_rows of rows [r0, r0 + rows) of the im2col matrix of a
// 3x3 stride-2 convolution without padding over inp (*, Fin, Cin),
// channel-last (conv2d_s2_forward's layout: row t * Fout + f, Fout = (Fin -
// 1) / 2, holds inp[2t + kh][2f + kw][c] in (kh, kw, c) order), read in
// place: the same codes and scales without the float im2col copy. Row i of q
// and scales[i] belong to im2col row r0 + i.
void sparq_act_quantize_conv_s2(int8_t *q, int ldq, float *scales, const float *inp, int Fin, int Cin, int r0,
                                int rows);

// i32 read-out: y[t][o] = (float)acc[t][o] * (rs[t] * cs[o]) + (bias ? bias[o] : 0.0f),
// in that order (product of the scales first; no fused multiply-add).
void sparq_gemm_readout_i32(float *y, int ldy, const int32_t *acc, int ldacc, const float *rs, const float *cs,
                       const float *bias, int rows, int cols);

// q8 read-out of int8 results: y[t][o] = (float)q[t][o] * (rs[t] * cs[o]) + (bias ? bias[o] : 0.0f).
void sparq_gemm_readout_q8(float *y, int ldy, const int8_t *q, int ldq, const float *rs, const float *cs,
                      const float *bias, int rows, int cols);

// The two read-outs followed by ReLU in the same pass: y = v > 0 ? v : 0
// (relu_forward; NaN and -0 give +0).
void sparq_gemm_readout_i32_relu(float *y, int ldy, const int32_t *acc, int ldacc, const float *rs, const float *cs,
                                 const float *bias, int rows, int cols);
void sparq_gemm_readout_q8_relu(float *y, int ldy, const int8_t *q, int ldq, const float *rs, const float *cs,
                                const float *bias, int rows, int cols);

// sparq_requant_ref (the device's per-channel requantization), vectorized.
void sparq_requant_rows(int8_t *y8, int ldy8, const int32_t *acc, int ldacc, const struct sparq_requant_params *p,
                        int rows, int cols);

// A byte table applied in place: h[e] = lut[h[e] + 128] for e < n (the FFN
// chain's activation table, sparq_chain.h); AVX-512 VBMI when the CPU has
// it and the path is avx512vnni, else the scalar loop.
void sparq_lut_bytes(int8_t *h, size_t n, const int8_t lut[256]);

#endif
