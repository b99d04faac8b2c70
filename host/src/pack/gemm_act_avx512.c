// AVX-512 versions of the GEMM's input and output stages (sparq_gemm_act.h):
// the same IEEE operations as the scalar definitions in gemm_act.c, 16 lanes
// at a time, so the same bits. Ragged ends use masked loads and stores.
#include <immintrin.h>

#include "gemm_act_internal.h"

static inline __mmask16 tail16(int left) { return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1); }

float act_scale_avx512(const float *x, int n)
{
    // max(|x|, m) returns m when |x| is NaN: NaNs are ignored, as by fmaxf.
    __m512 m0 = _mm512_setzero_ps(), m1 = _mm512_setzero_ps();
    int k = 0;
    for (; k + 32 <= n; k += 32) {
        m0 = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + k)), m0);
        m1 = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + k + 16)), m1);
    }
    for (; k < n; k += 16) // masked-off lanes load 0
        m0 = _mm512_max_ps(_mm512_abs_ps(_mm512_maskz_loadu_ps(tail16(n - k), x + k)), m0);
    float maxabs = _mm512_reduce_max_ps(_mm512_max_ps(m0, m1));
    return maxabs > 0.0f ? maxabs / 127.0f : 1.0f;
}

void act_quantize_avx512(int8_t *q, const float *x, int n, float s)
{
    const __m512 vs = _mm512_set1_ps(s), lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f);
    for (int k = 0; k < n; k += 16) {
        const __mmask16 m = tail16(n - k);
        __m512 v = _mm512_div_ps(_mm512_maskz_loadu_ps(m, x + k), vs); // a true division, like x / s
        v = _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); // rintf: half to even
        const __mmask16 num = _mm512_cmp_ps_mask(v, v, _CMP_ORD_Q);                 // NaN -> 0
        v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
        _mm512_mask_cvtepi32_storeu_epi8(q + k, m, _mm512_maskz_cvtps_epi32(num, v));
    }
}

void readout_i32_avx512(float *y, int ldy, const int32_t *acc, int ldacc, const float *rs, const float *cs,
                        const float *bias, int rows, int cols)
{
    for (int t = 0; t < rows; t++) {
        const __m512 r = _mm512_set1_ps(rs[t]);
        const int32_t *a = acc + (size_t)t * ldacc;
        float *yr = y + (size_t)t * ldy;
        for (int o = 0; o < cols; o += 16) {
            const __mmask16 m = tail16(cols - o);
            __m512 sc = _mm512_mul_ps(r, _mm512_maskz_loadu_ps(m, cs + o));
            __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(m, a + o)), sc);
            v = _mm512_add_ps(v, bias ? _mm512_maskz_loadu_ps(m, bias + o) : _mm512_setzero_ps());
            _mm512_mask_storeu_ps(yr + o, m, v);
        }
    }
}

void readout_q8_avx512(float *y, int ldy, const int8_t *q, int ldq, const float *rs, const float *cs,
                       const float *bias, int rows, int cols)
{
    for (int t = 0; t < rows; t++) {
        const __m512 r = _mm512_set1_ps(rs[t]);
        const int8_t *a = q + (size_t)t * ldq;
        float *yr = y + (size_t)t * ldy;
        for (int o = 0; o < cols; o += 16) {
            const __mmask16 m = tail16(cols - o);
            __m512 sc = _mm512_mul_ps(r, _mm512_maskz_loadu_ps(m, cs + o));
            __m512i c = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, a + o));
            __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(c), sc);
            v = _mm512_add_ps(v, bias ? _mm512_maskz_loadu_ps(m, bias + o) : _mm512_setzero_ps());
            _mm512_mask_storeu_ps(yr + o, m, v);
        }
    }
}

// sparq_requant in 64-bit lanes: v = acc + bias (wrapping int32), p = v * mult
// (int64), r = (p + 2^(shift-1)) >> shift (arithmetic), clamp to int8.
static inline __m512i requant8(__m512i v32x8, __m512i mult, __m512i round, __m512i shift)
{
    const __m512i lo = _mm512_set1_epi64(-128), hi = _mm512_set1_epi64(127);
    __m512i p = _mm512_mul_epi32(v32x8, mult); // low signed dwords of each qword
    p = _mm512_srav_epi64(_mm512_add_epi64(p, round), shift);
    return _mm512_min_epi64(_mm512_max_epi64(p, lo), hi);
}

void requant_rows_avx512(int8_t *y8, int ldy8, const int32_t *acc, int ldacc, const struct sparq_requant_params *p,
                         int rows, int cols)
{
    // Channels outer: a block's parameters are gathered once for all rows.
    for (int o = 0; o < cols; o += 16) {
        const __mmask16 m = tail16(cols - o);
        int32_t bias[16] = { 0 };
        int64_t mult[16] = { 0 }, round[16] = { 0 }, shift[16] = { 0 };
        for (int j = 0; j < 16 && o + j < cols; j++) {
            bias[j] = p[o + j].bias;
            mult[j] = p[o + j].mult;
            shift[j] = p[o + j].shift;
            round[j] = shift[j] > 0 ? (int64_t)1 << (shift[j] - 1) : 0;
        }
        const __m512i vb = _mm512_loadu_si512(bias);
        const __m512i m0 = _mm512_loadu_si512(mult), m1 = _mm512_loadu_si512(mult + 8);
        const __m512i r0 = _mm512_loadu_si512(round), r1 = _mm512_loadu_si512(round + 8);
        const __m512i s0 = _mm512_loadu_si512(shift), s1 = _mm512_loadu_si512(shift + 8);
        for (int t = 0; t < rows; t++) {
            __m512i v = _mm512_add_epi32(_mm512_maskz_loadu_epi32(m, acc + (size_t)t * ldacc + o), vb);
            __m512i v0 = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(v));
            __m512i v1 = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(v, 1));
            int8_t *dst = y8 + (size_t)t * ldy8 + o;
            _mm512_mask_cvtepi64_storeu_epi8(dst, (__mmask8)m, requant8(v0, m0, r0, s0));
            _mm512_mask_cvtepi64_storeu_epi8(dst + 8, (__mmask8)(m >> 8), requant8(v1, m1, r1, s1));
        }
    }
}
