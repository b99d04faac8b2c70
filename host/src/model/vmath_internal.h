// The per-path versions of sparq_vmath.h (vmath.c holds the scalar
// definitions and picks a path) and the constants every path shares.
#ifndef SPARQ_VMATH_INTERNAL_H
#define SPARQ_VMATH_INTERNAL_H

#include <stddef.h>

// exp: inputs clamped to [VM_LO, VM_HI] (below: 0 after rounding; above: +inf),
// n = rint(x * log2 e), r = x - n * (VM_LN2_HI + VM_LN2_LO) (Cephes' split),
// e^r = 1 + r + r^2 * P(r) with Cephes' expf coefficients, then * 2^(n>>1) * 2^(n-(n>>1)).
#define VM_LO -104.0f
#define VM_HI 89.0f
#define VM_LOG2E 1.44269504088896341f
#define VM_LN2_HI 0.693359375f
#define VM_LN2_LO -2.12194440e-4f
#define VM_P0 1.9875691500e-4f
#define VM_P1 1.3981999507e-3f
#define VM_P2 8.3334519073e-3f
#define VM_P3 4.1665795894e-2f
#define VM_P4 1.6666665459e-1f
#define VM_P5 5.0000001201e-1f

#define VM_FUNCS(SUFFIX)                                                                                          \
    void vexp_##SUFFIX(float *y, const float *x, size_t n);                                                       \
    void vsigmoid_##SUFFIX(float *y, const float *x, size_t n);                                                   \
    void vsilu_##SUFFIX(float *y, const float *x, size_t n);                                                      \
    void vglu_##SUFFIX(float *y, const float *a, const float *g, size_t n);                                       \
    void vsoftmax_##SUFFIX(float *x, int n);                                                                      \
    void vlayernorm_##SUFFIX(float *y, float *mean, float *rstd, const float *x, const float *w, const float *b,  \
                             int C, float eps);
VM_FUNCS(avx2)
VM_FUNCS(avx512)
#undef VM_FUNCS

#endif
