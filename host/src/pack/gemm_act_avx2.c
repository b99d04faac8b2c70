// AVX2 versions of the GEMM's input and output stages (sparq_gemm_act.h):
// the same IEEE operations as the scalar definitions in gemm_act.c, 8 lanes
// at a time (ragged ends in scalar code written the same way).
#include <immintrin.h>
#include <math.h>

#include "gemm_act_internal.h"

float act_maxabs_avx2(const float *x, int n)
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
    return maxabs;
}

float act_scale_avx2(const float *x, int n)
{
    const float maxabs = act_maxabs_avx2(x, n);
    return maxabs > 0.0f ? maxabs / 127.0f : 1.0f;
}

static inline __m256 relu8(__m256 v, int relu)
{
    return relu ? _mm256_max_ps(v, _mm256_setzero_ps()) : v;
}
static inline float relu1(float v, int relu)
{
    return relu && !(v > 0.0f) ? 0.0f : v;
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
                      const float *bias, int rows, int cols, int relu)
{
    for (int t = 0; t < rows; t++) {
        const __m256 r = _mm256_set1_ps(rs[t]);
        const int32_t *a = acc + (size_t)t * ldacc;
        float *yr = y + (size_t)t * ldy;
        int o = 0;
        for (; o + 8 <= cols; o += 8) {
            __m256 sc = _mm256_mul_ps(r, _mm256_loadu_ps(cs + o));
            __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)(a + o))), sc);
            _mm256_storeu_ps(yr + o,
                             relu8(_mm256_add_ps(v, bias ? _mm256_loadu_ps(bias + o) : _mm256_setzero_ps()), relu));
        }
        for (; o < cols; o++)
            yr[o] = relu1((float)a[o] * (rs[t] * cs[o]) + (bias ? bias[o] : 0.0f), relu);
    }
}

void readout_q8_avx2(float *y, int ldy, const int8_t *q, int ldq, const float *rs, const float *cs, const float *bias,
                     int rows, int cols, int relu)
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
            _mm256_storeu_ps(yr + o,
                             relu8(_mm256_add_ps(v, bias ? _mm256_loadu_ps(bias + o) : _mm256_setzero_ps()), relu));
        }
        for (; o < cols; o++)
            yr[o] = relu1((float)a[o] * (rs[t] * cs[o]) + (bias ? bias[o] : 0.0f), relu);
    }
}

// Arithmetic right shift of int64 lanes by per-lane counts in [0, 63]
// (AVX2 has only the logical vpsrlvq): flip negative values, shift, flip back.
static inline __m256i srav64(__m256i x, __m256i s)
{
    const __m256i sign = _mm256_cmpgt_epi64(_mm256_setzero_si256(), x);
    return _mm256_xor_si256(_mm256_srlv_epi64(_mm256_xor_si256(x, sign), s), sign);
}

// sparq_requant on 4 int64 lanes: the low signed dword of each qword of v
// times mult, rounded, shifted, clamped to [-128, 127].
static inline __m256i requant4(__m256i v, __m256i mult, __m256i round, __m256i shift)
{
    const __m256i lo = _mm256_set1_epi64x(-128), hi = _mm256_set1_epi64x(127);
    __m256i p = srav64(_mm256_add_epi64(_mm256_mul_epi32(v, mult), round), shift);
    p = _mm256_blendv_epi8(p, lo, _mm256_cmpgt_epi64(lo, p));
    return _mm256_blendv_epi8(p, hi, _mm256_cmpgt_epi64(p, hi));
}

// 8 channels: even channels in the low dwords of v, odd ones shifted down.
static inline __m256i requant8_avx2(__m256i v, const __m256i prm[6])
{
    __m256i e = requant4(v, prm[0], prm[2], prm[4]);
    __m256i o = requant4(_mm256_srli_epi64(v, 32), prm[1], prm[3], prm[5]);
    return _mm256_blend_epi32(e, _mm256_slli_epi64(o, 32), 0xAA); // int32 results in channel order
}

// Parameters of 16 channels: bias and mult, round, shift for even / odd
// channels of each half.
struct rq_block2 {
    __m256i bias[2], prm[2][6];
};

#define RQ_CHUNK 64 // blocks of 16 channels whose parameters sit in L1 at once (28 KB)

static void rq_block2_set(struct rq_block2 *blk, const struct sparq_requant_params *p)
{
    for (int h = 0; h < 2; h++) {
        int64_t q[6][4];
        int32_t b[8];
        for (int j = 0; j < 8; j++) {
            const struct sparq_requant_params *c = &p[8 * h + j];
            b[j] = c->bias;
            q[j % 2][j / 2] = c->mult;
            q[2 + j % 2][j / 2] = c->shift > 0 ? (int64_t)1 << (c->shift - 1) : 0;
            q[4 + j % 2][j / 2] = c->shift;
        }
        blk->bias[h] = _mm256_loadu_si256((const __m256i *)b);
        for (int k = 0; k < 6; k++)
            blk->prm[h][k] = _mm256_loadu_si256((const __m256i *)q[k]);
    }
}

void requant_rows_avx2(int8_t *y8, int ldy8, const int32_t *acc, int ldacc, const struct sparq_requant_params *p,
                       int rows, int cols)
{
    // Full blocks of 16 channels; rows outer, so acc streams in order (for
    // thousands of rows it is far larger than the caches), the parameters of
    // up to RQ_CHUNK blocks set up once.
    const int full = cols / 16 * 16;
    struct rq_block2 blk[RQ_CHUNK];
    for (int c0 = 0; c0 < full; c0 += 16 * RQ_CHUNK) {
        const int c1 = full - c0 < 16 * RQ_CHUNK ? full : c0 + 16 * RQ_CHUNK;
        for (int o = c0; o < c1; o += 16)
            rq_block2_set(&blk[(o - c0) / 16], p + o);
        for (int t = 0; t < rows; t++)
            for (int o = c0; o < c1; o += 16) {
                const struct rq_block2 *b = &blk[(o - c0) / 16];
                const int32_t *a = acc + (size_t)t * ldacc + o;
                __m256i r0 = requant8_avx2(_mm256_add_epi32(_mm256_loadu_si256((const __m256i *)a), b->bias[0]),
                                           b->prm[0]);
                __m256i r1 = requant8_avx2(
                    _mm256_add_epi32(_mm256_loadu_si256((const __m256i *)(a + 8)), b->bias[1]), b->prm[1]);
                __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(r0, r1), 0xD8); // 16 words in order
                __m128i v = _mm_packs_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
                _mm_storeu_si128((__m128i *)(y8 + (size_t)t * ldy8 + o), v);
            }
    }
    if (full < cols) // ragged end: the scalar definition
        sparq_requant_ref(y8 + full, ldy8, acc + full, ldacc, p + full, rows, cols - full);
}
