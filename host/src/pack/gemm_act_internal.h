// Vector versions of the GEMM's input and output stages (sparq_gemm_act.h),
// one set per instruction set; gemm_act.c holds the scalar definitions and
// picks a set by the GEMM's path. relu != 0: the read-out then ReLU
// (v > 0 ? v : 0, so NaN and -0 give +0), in the same pass.
#ifndef SPARQ_GEMM_ACT_INTERNAL_H
#define SPARQ_GEMM_ACT_INTERNAL_H

#include <stddef.h>

#include "sparq_gemm_act.h"

#define ACT_FUNCS(SUFFIX)                                                                                              \
    float act_maxabs_##SUFFIX(const float *x, int n);                                                                  \
    float act_scale_##SUFFIX(const float *x, int n);                                                                   \
    void act_quantize_##SUFFIX(int8_t *q, const float *x, int n, float s);                                             \
    void readout_i32_##SUFFIX(float *y, int ldy, const int32_t *acc, int ldacc, const float *rs, const float *cs,      \
                              const float *bias, int rows, int cols, int relu);                                        \
    void readout_q8_##SUFFIX(float *y, int ldy, const int8_t *q, int ldq, const float *rs, const float *cs,            \
                             const float *bias, int rows, int cols, int relu);
ACT_FUNCS(avx2)
ACT_FUNCS(avx512)
#undef ACT_FUNCS
// act_quantize_avx512 where s is the row's own scale (sparq_act_scale of a
// row holding these values): fewer operations, the same codes.
void act_quantize_rowmax_avx512(int8_t *q, const float *x, int n, float s);
// The requantization in 64-bit lanes (AVX2 emulates the per-lane arithmetic
// shift that AVX-512 has as vpsravq).
void requant_rows_avx2(int8_t *y8, int ldy8, const int32_t *acc, int ldacc, const struct sparq_requant_params *p,
                       int rows, int cols);
void requant_rows_avx512(int8_t *y8, int ldy8, const int32_t *acc, int ldacc, const struct sparq_requant_params *p,
                         int rows, int cols);
// The 256-entry byte table (needs AVX-512 VBMI besides the path's flags).
void lut_bytes_avx512(int8_t *h, size_t n, const int8_t *lut);
void lut_bytes_scalar(int8_t *h, size_t n, const int8_t *lut);

#endif
