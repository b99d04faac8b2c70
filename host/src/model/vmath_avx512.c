// AVX-512 versions of the vmath helpers: the scalar definitions of vmath.c,
// 16 lanes at a time; partial vectors through masks.
#include <immintrin.h>
#include <stdint.h>

#include "vmath_internal.h"

static inline __m512 vexp(__m512 x)
{
    x = _mm512_max_ps(_mm512_set1_ps(VM_LO), x); // NaN passes (second operand)
    x = _mm512_min_ps(_mm512_set1_ps(VM_HI), x);
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(VM_LOG2E)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fmadd_ps(n, _mm512_set1_ps(-VM_LN2_HI), x);
    r = _mm512_fmadd_ps(n, _mm512_set1_ps(-VM_LN2_LO), r);
    __m512 p = _mm512_set1_ps(VM_P0);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(VM_P1));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(VM_P2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(VM_P3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(VM_P4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(VM_P5));
    __m512 y = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
    __m512i ni = _mm512_cvtps_epi32(n), n1 = _mm512_srai_epi32(ni, 1), n2 = _mm512_sub_epi32(ni, n1);
    const __m512i bias = _mm512_set1_epi32(127);
    __m512 s1 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n1, bias), 23));
    __m512 s2 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n2, bias), 23));
    return _mm512_mul_ps(_mm512_mul_ps(y, s1), s2);
}

static inline __m512 vsig(__m512 x)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    return _mm512_div_ps(one, _mm512_add_ps(one, vexp(_mm512_sub_ps(_mm512_setzero_ps(), x))));
}

static inline __mmask16 tail(size_t left) { return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1); }

// lane i += lane i + h for h = 8, 4, 2, 1 (vmath.c's reduce16).
static inline float reduce16(__m512 v)
{
    __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
    __m256 a = _mm256_add_ps(_mm512_castps512_ps256(v), hi);
    __m128 b = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    __m128 c = _mm_add_ps(b, _mm_movehl_ps(b, b));
    __m128 d = _mm_add_ss(c, _mm_shuffle_ps(c, c, 1));
    return _mm_cvtss_f32(d);
}

void vexp_avx512(float *y, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = tail(n - i);
        _mm512_mask_storeu_ps(y + i, m, vexp(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

void vsigmoid_avx512(float *y, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = tail(n - i);
        _mm512_mask_storeu_ps(y + i, m, vsig(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

void vsilu_avx512(float *y, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = tail(n - i);
        __m512 v = _mm512_maskz_loadu_ps(m, x + i);
        _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(v, vsig(v)));
    }
}

void vglu_avx512(float *y, const float *a, const float *g, size_t n)
{
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = tail(n - i);
        __m512 s = vsig(_mm512_maskz_loadu_ps(m, g + i));
        _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, a + i), s));
    }
}

void vsoftmax_avx512(float *x, int n)
{
    __m512 mx = _mm512_set1_ps(x[0]);
    for (int i = 0; i < n; i += 16)
        {
        __mmask16 k = tail((size_t)(n - i));
        mx = _mm512_mask_max_ps(mx, k, _mm512_maskz_loadu_ps(k, x + i), mx);
    }
    // max is exact in any order; its lanes reduce to the scalar max.
    const __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
    __m512 acc = _mm512_setzero_ps();
    for (int i = 0; i < n; i += 16) {
        __mmask16 k = tail((size_t)(n - i));
        __m512 e = vexp(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), m));
        _mm512_mask_storeu_ps(x + i, k, e);
        acc = _mm512_mask_add_ps(acc, k, acc, e);
    }
    const __m512 inv = _mm512_set1_ps(1.0f / reduce16(acc));
    for (int i = 0; i < n; i += 16) {
        __mmask16 k = tail((size_t)(n - i));
        _mm512_mask_storeu_ps(x + i, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + i), inv));
    }
}

void vlayernorm_avx512(float *y, float *mean, float *rstd, const float *x, const float *w, const float *b, int C,
                       float eps)
{
    __m512 acc = _mm512_setzero_ps();
    for (int i = 0; i < C; i += 16) {
        __mmask16 k = tail((size_t)(C - i));
        acc = _mm512_mask_add_ps(acc, k, acc, _mm512_maskz_loadu_ps(k, x + i));
    }
    const float mf = reduce16(acc) / (float)C;
    const __m512 m = _mm512_set1_ps(mf);
    acc = _mm512_setzero_ps();
    for (int i = 0; i < C; i += 16) {
        __mmask16 k = tail((size_t)(C - i));
        __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), m);
        acc = _mm512_mask3_fmadd_ps(d, d, acc, k);
    }
    const float sf = 1.0f / __builtin_sqrtf(reduce16(acc) / (float)C + eps);
    const __m512 s = _mm512_set1_ps(sf);
    for (int i = 0; i < C; i += 16) {
        __mmask16 k = tail((size_t)(C - i));
        __m512 d = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), m), s);
        __m512 wv = _mm512_maskz_loadu_ps(k, w + i), bv = _mm512_maskz_loadu_ps(k, b + i);
        _mm512_mask_storeu_ps(y + i, k, _mm512_fmadd_ps(d, wv, bv));
    }
    *mean = mf;
    *rstd = sf;
}
