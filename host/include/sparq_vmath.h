// sparq-layer: model
// Vectorized float helpers of the model's host ops (SiLU, GLU, sigmoid,
// softmax, LayerNorm): a polynomial exp instead of libm's expf, AVX-512 /
// AVX2+FMA / scalar chosen at run time. Every path gives the same bits: the
// scalar definitions (host/src/model/vmath.c) do the same IEEE operations,
// fused multiply-adds included, and sums run in 16 interleaved partial sums
// reduced in one fixed order.
#ifndef SPARQ_VMATH_H
#define SPARQ_VMATH_H

#include <stddef.h>

// exp(x): n = rint(x / ln 2), r = x - n ln 2 (two FMAs, Cody-Waite), Cephes'
// degree-7 polynomial for e^r, times 2^n in two exact steps (so results in
// the subnormal range are rounded once). Error against the correctly rounded
// exp: at most 1.01 ulp over every float of [-87.3, 88.7] (test_layers with
// SPARQ_VMATH_EXHAUSTIVE=1; its default run asserts <= 2 ulp on a random
// million); subnormal results (x in [-103.9, -87.4]) within 2^-149 on a grid;
// x < -104 gives 0 and x > 88.73 +inf (like expf); NaN gives NaN.
float sparq_expf(float x);

// y[i] = sparq_expf(x[i]) (in place allowed).
void sparq_vexp(float *y, const float *x, size_t n);
// y[i] = 1 / (1 + exp(-x[i])) (in place allowed).
void sparq_vsigmoid(float *y, const float *x, size_t n);
// y[i] = x[i] * sigmoid(x[i]) (in place allowed).
void sparq_vsilu(float *y, const float *x, size_t n);
// y[i] = a[i] * sigmoid(g[i]).
void sparq_vglu(float *y, const float *a, const float *g, size_t n);
// In place over one row of n >= 1: x[i] = exp(x[i] - max) * (1 / sum).
void sparq_vsoftmax(float *x, int n);
// One row of C: m = sum x / C, v = sum (x - m)^2 / C, s = 1 / sqrtf(v + eps),
// y = ((x - m) * s) * w + b (no FMA). *mean = m, *rstd = s.
void sparq_vlayernorm(float *y, float *mean, float *rstd, const float *x, const float *w, const float *b, int C,
                      float eps);

// Paths: "scalar", "avx2" (AVX2 + FMA), "avx512" (AVX-512 F). The fastest
// the CPU has runs unless sparq_vmath_set_path() forces one (for tests).
const char *sparq_vmath_path(void);
int sparq_vmath_path_supported(const char *name);
// NULL or "auto" restores the automatic choice; -1 for an unknown or
// unsupported name.
int sparq_vmath_set_path(const char *name);

#endif
