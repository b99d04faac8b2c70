// AVX2 versions of the GEMM's input and output stages (sparq_gemm_act.h):
// the same IEEE operations as the scalar definitions in gemm_act.c, 8 lanes
// at a time (ragged ends in scalar code written the same way).
#include <immintrin.h>
#include <math.h>

#include "gemm_act_internal.h"

float act_scale_avx2(const float *x, int n)
{
    // max(|x|, m) returns m when |x| is NaN: NaNs are ignored, as by fmaxf.
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    __m256 m = _mm256_setzero_ps();
    int k = 0;
    for (; k + 8 <= n; k += 8)
        m = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + k), absmask), m);
    float lanes[8], maxabs = 0.0f;
    _mm256_storeu_ps(lanes, m);
    for (int j = 0; j < 8; j++)
        maxabs = fmaxf(maxabs, lanes[j]);
    for (; k < n; k++)
        maxabs = fmaxf(maxabs, fabsf(x[k]));
    return maxabs > 0.0f ? maxabs / 127.0f : 1.0f;
}

void act_quantize_avx2(int8_t *q, const float *x, int n, float s)
{
    const __m256 vs = _mm256_set1_ps(s), lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
    int k = 0;
    for (; k + 8 <= n; k += 8) {
        __m256 v = _mm256_div_ps(_mm256_loadu_ps(x + k), vs); // a true division, like x / s
        v = _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        __m256i num = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_ORD_Q)); // NaN -> 0
        v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
        __m256i c = _mm256_and_si256(_mm256_cvtps_epi32(v), num);
        __m128i c16 = _mm_packs_epi32(_mm256_castsi256_si128(c), _mm256_extracti128_si256(c, 1));
        _mm_storel_epi64((__m128i *)(q + k), _mm_packs_epi16(c16, c16));
    }
    for (; k < n; k++) {
        float c = rintf(x[k] / s);
        q[k] = (int8_t)(c != c ? 0 : c > 127.0f ? 127 : c < -127.0f ? -127 : (int)c);
    }
}

void readout_i32_avx2(float *y, int ldy, const int32_t *acc, int ldacc, const float *rs, const float *cs,
                      const float *bias, int rows, int cols)
{
    for (int t = 0; t < rows; t++) {
        const __m256 r = _mm256_set1_ps(rs[t]);
        const int32_t *a = acc + (size_t)t * ldacc;
        float *yr = y + (size_t)t * ldy;
        int o = 0;
        for (; o + 8 <= cols; o += 8) {
            __m256 sc = _mm256_mul_ps(r, _mm256_loadu_ps(cs + o));
            __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)(a + o))), sc);
            _mm256_storeu_ps(yr + o, _mm256_add_ps(v, bias ? _mm256_loadu_ps(bias + o) : _mm256_setzero_ps()));
        }
        for (; o < cols; o++)
            yr[o] = (float)a[o] * (rs[t] * cs[o]) + (bias ? bias[o] : 0.0f);
    }
}

void readout_q8_avx2(float *y, int ldy, const int8_t *q, int ldq, const float *rs, const float *cs,
                     const float *bias, int rows, int cols)
{
    for (int t = 0; t < rows; t++) {
        const __m256 r = _mm256_set1_ps(rs[t]);
        const int8_t *a = q + (size_t)t * ldq;
        float *yr = y + (size_t)t * ldy;
        int o = 0;
        for (; o + 8 <= cols; o += 8) {
            __m256 sc = _mm256_mul_ps(r, _mm256_loadu_ps(cs + o));
            __m256i c = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(a + o)));
            __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(c), sc);
            _mm256_storeu_ps(yr + o, _mm256_add_ps(v, bias ? _mm256_loadu_ps(bias + o) : _mm256_setzero_ps()));
        }
        for (; o < cols; o++)
            yr[o] = (float)a[o] * (rs[t] * cs[o]) + (bias ? bias[o] : 0.0f);
    }
}
