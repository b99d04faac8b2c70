// AVX2 + FMA versions of the vmath helpers: the scalar definitions of
// vmath.c, 8 lanes at a time. Sums keep the 16 partial sums of the scalar
// definition in two registers (lanes 0-7 and 8-15 of each group of 16).
#include <immintrin.h>
#include <stdint.h>

#include "vmath_internal.h"

static inline __m256 vexp(__m256 x)
{
    x = _mm256_max_ps(_mm256_set1_ps(VM_LO), x); // NaN passes (second operand)
    x = _mm256_min_ps(_mm256_set1_ps(VM_HI), x);
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(VM_LOG2E)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fmadd_ps(n, _mm256_set1_ps(-VM_LN2_HI), x);
    r = _mm256_fmadd_ps(n, _mm256_set1_ps(-VM_LN2_LO), r);
    __m256 p = _mm256_set1_ps(VM_P0);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(VM_P1));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(VM_P2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(VM_P3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(VM_P4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(VM_P5));
    __m256 y = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));
    __m256i ni = _mm256_cvtps_epi32(n), n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
    const __m256i bias = _mm256_set1_epi32(127);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
    __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(y, s1), s2);
}

static inline __m256 vsig(__m256 x)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    return _mm256_div_ps(one, _mm256_add_ps(one, vexp(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}

// Lane mask of the first `left` lanes (all 8 if left >= 8, none if <= 0).
static inline __m256i tail(long left)
{
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    int l = left >= 8 ? 8 : left <= 0 ? 0 : (int)left;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(l), idx);
}
static inline __m256 load(const float *p, __m256i m) { return _mm256_maskload_ps(p, m); }
static inline void store(float *p, __m256i m, __m256 v) { _mm256_maskstore_ps(p, m, v); }
// acc + v in the lanes of m, acc elsewhere.
static inline __m256 add_m(__m256 acc, __m256i m, __m256 v)
{
    return _mm256_blendv_ps(acc, _mm256_add_ps(acc, v), _mm256_castsi256_ps(m));
}

// The 16 partial sums lo (lanes 0-7) and hi (8-15) reduced as vmath.c's reduce16.
static inline float reduce16(__m256 lo, __m256 hi)
{
    __m256 a = _mm256_add_ps(lo, hi);
    __m128 b = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    __m128 c = _mm_add_ps(b, _mm_movehl_ps(b, b));
    __m128 d = _mm_add_ss(c, _mm_shuffle_ps(c, c, 1));
    return _mm_cvtss_f32(d);
}

void vexp_avx2(float *y, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i += 8) {
        __m256i m = tail((long)(n - i));
        store(y + i, m, vexp(load(x + i, m)));
    }
}

void vsigmoid_avx2(float *y, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i += 8) {
        __m256i m = tail((long)(n - i));
        store(y + i, m, vsig(load(x + i, m)));
    }
}

void vsilu_avx2(float *y, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i += 8) {
        __m256i m = tail((long)(n - i));
        __m256 v = load(x + i, m);
        store(y + i, m, _mm256_mul_ps(v, vsig(v)));
    }
}

void vglu_avx2(float *y, const float *a, const float *g, size_t n)
{
    for (size_t i = 0; i < n; i += 8) {
        __m256i m = tail((long)(n - i));
        store(y + i, m, _mm256_mul_ps(load(a + i, m), vsig(load(g + i, m))));
    }
}

void vsoftmax_avx2(float *x, int n)
{
    float mx = x[0];
    for (int i = 1; i < n; i++) // exact in any order; scalar is fast enough next to the exps
        mx = x[i] > mx ? x[i] : mx;
    const __m256 m = _mm256_set1_ps(mx);
    __m256 lo = _mm256_setzero_ps(), hi = lo;
    for (int i = 0; i < n; i += 16) {
        __m256i k0 = tail(n - i), k1 = tail(n - i - 8);
        __m256 e0 = vexp(_mm256_sub_ps(load(x + i, k0), m));
        store(x + i, k0, e0);
        lo = add_m(lo, k0, e0);
        if (n - i > 8) {
            __m256 e1 = vexp(_mm256_sub_ps(load(x + i + 8, k1), m));
            store(x + i + 8, k1, e1);
            hi = add_m(hi, k1, e1);
        }
    }
    const __m256 inv = _mm256_set1_ps(1.0f / reduce16(lo, hi));
    for (int i = 0; i < n; i += 8) {
        __m256i k = tail(n - i);
        store(x + i, k, _mm256_mul_ps(load(x + i, k), inv));
    }
}

void vlayernorm_avx2(float *y, float *mean, float *rstd, const float *x, const float *w, const float *b, int C,
                     float eps)
{
    __m256 lo = _mm256_setzero_ps(), hi = lo;
    for (int i = 0; i < C; i += 16) {
        __m256i k0 = tail(C - i), k1 = tail(C - i - 8);
        lo = add_m(lo, k0, load(x + i, k0));
        hi = add_m(hi, k1, load(x + i + 8, k1));
    }
    const float mf = reduce16(lo, hi) / (float)C;
    const __m256 m = _mm256_set1_ps(mf);
    lo = hi = _mm256_setzero_ps();
    for (int i = 0; i < C; i += 16) {
        __m256i k0 = tail(C - i), k1 = tail(C - i - 8);
        __m256 d0 = _mm256_sub_ps(load(x + i, k0), m), d1 = _mm256_sub_ps(load(x + i + 8, k1), m);
        lo = _mm256_blendv_ps(lo, _mm256_fmadd_ps(d0, d0, lo), _mm256_castsi256_ps(k0));
        hi = _mm256_blendv_ps(hi, _mm256_fmadd_ps(d1, d1, hi), _mm256_castsi256_ps(k1));
    }
    const float sf = 1.0f / __builtin_sqrtf(reduce16(lo, hi) / (float)C + eps);
    const __m256 s = _mm256_set1_ps(sf);
    for (int i = 0; i < C; i += 8) {
        __m256i k = tail(C - i);
        __m256 d = _mm256_mul_ps(_mm256_sub_ps(load(x + i, k), m), s);
        store(y + i, k, _mm256_fmadd_ps(d, load(w + i, k), load(b + i, k)));
    }
    *mean = mf;
    *rstd = sf;
}
