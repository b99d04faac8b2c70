// AVX-512 versions of the GEMM's input and output stages (sparq_gemm_act.h):
// the same IEEE operations as the scalar definitions in gemm_act.c, 16 lanes
// at a time, so the same bits. Ragged ends use masked loads and stores.
#include <immintrin.h>

#include "gemm_act_internal.h"
#include "gemm_rq_avx512.h"

static inline __mmask16 tail16(int left) { return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1); }

float act_maxabs_avx512(const float *x, int n)
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
    return _mm512_reduce_max_ps(_mm512_max_ps(m0, m1));
}

float act_scale_avx512(const float *x, int n)
{
    const float maxabs = act_maxabs_avx512(x, n);
    return maxabs > 0.0f ? maxabs / 127.0f : 1.0f;
}

// x / s without a division per element: y0 = x * r with r = RN(1/s), then
// two FMA corrections y += r * (x - s * y), the remainder computed exactly
// by the FMA. The second correction starts from a faithful quotient, so it
// returns RN(x / s) (Markstein's theorem) as long as nothing under- or
// overflows: s is kept in [2^-90, 2^90] (other scales divide), and lanes
// whose y0 is not finite (x infinite or NaN, or |x / s| beyond FLT_MAX,
// where the codes clamp anyway) keep y0. A division costs ~8x an FMA here.
static inline __m512 quotient(__m512 x, __m512 s, __m512 r)
{
    const __m512 y0 = _mm512_mul_ps(x, r);
    __m512 y = _mm512_fmadd_ps(_mm512_fnmadd_ps(y0, s, x), r, y0);
    y = _mm512_fmadd_ps(_mm512_fnmadd_ps(y, s, x), r, y);
    const __mmask16 fin = _mm512_cmp_ps_mask(_mm512_abs_ps(y0), _mm512_set1_ps(3.4028235e38f), _CMP_LE_OQ);
    return _mm512_mask_blend_ps(fin, y0, y);
}

void act_quantize_avx512(int8_t *q, const float *x, int n, float s)
{
    const __m512 vs = _mm512_set1_ps(s), lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f);
    const int fma = s >= 0x1p-90f && s <= 0x1p90f; // false for NaN
    const __m512 vr = _mm512_set1_ps(1.0f / s);
    for (int k = 0; k < n; k += 16) {
        const __mmask16 m = tail16(n - k);
        const __m512 xv = _mm512_maskz_loadu_ps(m, x + k);
        __m512 v = fma ? quotient(xv, vs, vr) : _mm512_div_ps(xv, vs); // RN(x / s), like x / s
        const __mmask16 num = _mm512_cmp_ps_mask(v, v, _CMP_ORD_Q);    // NaN -> 0
        // Clamp, then convert rounding half to even: rint and the clamp to
        // +-127 commute (127 is an integer), so this is clamp(rintf(v)).
        v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
        const __m128i c = _mm512_cvtepi32_epi8(
            _mm512_maskz_cvt_roundps_epi32(num, v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        if (m == 0xFFFF)
            _mm_storeu_si128((__m128i *)(q + k), c); // a masked vpmovdb to memory costs several uops
        else
            _mm_mask_storeu_epi8(q + k, m, c);
    }
}

// act_quantize_avx512 for a row quantized at its own scale, s = RN(max|x| / 127)
// with the max finite: then every |x / s| <= 127 * (1 + 2^-23), so the
// quotient is finite (no blend), rounds to at most 127 (no clamp), and a NaN
// converts to 0x80000000, whose low byte vpmovdb keeps: 0. Same codes.
void act_quantize_rowmax_avx512(int8_t *q, const float *x, int n, float s)
{
    if (!(s >= 0x1p-90f && s <= 0x1p90f)) {
        act_quantize_avx512(q, x, n, s);
        return;
    }
    const __m512 vs = _mm512_set1_ps(s), vr = _mm512_set1_ps(1.0f / s);
    for (int k = 0; k < n; k += 16) {
        const __mmask16 m = tail16(n - k);
        const __m512 xv = _mm512_maskz_loadu_ps(m, x + k), y0 = _mm512_mul_ps(xv, vr);
        __m512 y = _mm512_fmadd_ps(_mm512_fnmadd_ps(y0, vs, xv), vr, y0);
        y = _mm512_fmadd_ps(_mm512_fnmadd_ps(y, vs, xv), vr, y);
        const __m128i c =
            _mm512_cvtepi32_epi8(_mm512_cvt_roundps_epi32(y, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        if (m == 0xFFFF)
            _mm_storeu_si128((__m128i *)(q + k), c);
        else
            _mm_mask_storeu_epi8(q + k, m, c);
    }
}

void readout_i32_avx512(float *y, int ldy, const int32_t *acc, int ldacc, const float *rs, const float *cs,
                        const float *bias, int rows, int cols, int relu)
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
            if (relu) // max returns its second operand for a NaN and for two zeros
                v = _mm512_max_ps(v, _mm512_setzero_ps());
            _mm512_mask_storeu_ps(yr + o, m, v);
        }
    }
}

void readout_q8_avx512(float *y, int ldy, const int8_t *q, int ldq, const float *rs, const float *cs, const float *bias,
                       int rows, int cols, int relu)
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
            if (relu) // max returns its second operand for a NaN and for two zeros
                v = _mm512_max_ps(v, _mm512_setzero_ps());
            _mm512_mask_storeu_ps(yr + o, m, v);
        }
    }
}

#define RQ_CHUNK 64 // channel blocks whose parameters sit in L1 at once (28 KB)

void requant_rows_avx512(int8_t *y8, int ldy8, const int32_t *acc, int ldacc, const struct sparq_requant_params *p,
                         int rows, int cols)
{
    // Rows outer, so acc streams from memory in order (for thousands of
    // rows it is far larger than the caches); the parameters of up to
    // RQ_CHUNK blocks of 16 channels are set up once.
    struct rq_block blk[RQ_CHUNK];
    for (int c0 = 0; c0 < cols; c0 += 16 * RQ_CHUNK) {
        const int c1 = cols - c0 < 16 * RQ_CHUNK ? cols : c0 + 16 * RQ_CHUNK;
        for (int o = c0; o < c1; o += 16)
            rq_block_set(&blk[(o - c0) / 16], p + o, c1 - o);
        for (int t = 0; t < rows; t++)
            for (int o = c0; o < c1; o += 16) {
                const struct rq_block *b = &blk[(o - c0) / 16];
                const __mmask16 m = tail16(c1 - o);
                __m128i r = rq_requant16(_mm512_maskz_loadu_epi32(m, acc + (size_t)t * ldacc + o), b);
                rq_store16(y8 + (size_t)t * ldy8 + o, m, r);
            }
    }
}

// h[e] = lut[h[e] + 128] with the 256-entry table in four zmm: two
// vpermt2b look the low 7 bits up in each half, bit 7 picks the half.
__attribute__((target("avx512vbmi"))) void lut_bytes_avx512(int8_t *h, size_t n, const int8_t *lut)
{
    const __m512i t0 = _mm512_loadu_si512(lut), t1 = _mm512_loadu_si512(lut + 64);
    const __m512i t2 = _mm512_loadu_si512(lut + 128), t3 = _mm512_loadu_si512(lut + 192);
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    for (size_t e = 0; e < n; e += 64) {
        const __mmask64 m = n - e >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << (n - e)) - 1;
        const __m512i idx = _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, h + e), flip); // h + 128
        const __m512i lo = _mm512_permutex2var_epi8(t0, idx, t1), hi = _mm512_permutex2var_epi8(t2, idx, t3);
        _mm512_mask_storeu_epi8(h + e, m, _mm512_mask_blend_epi8(_mm512_movepi8_mask(idx), lo, hi));
    }
}
