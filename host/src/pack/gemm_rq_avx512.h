// sparq_requant on AVX-512 registers, shared by the requantization stage
// (gemm_act_avx512.c) and the GEMM's fused epilogue (gemm_fast_avx512.c).
// Only for files built with the avx512vnni path's flags.
#ifndef SPARQ_GEMM_RQ_AVX512_H
#define SPARQ_GEMM_RQ_AVX512_H

#include <immintrin.h>

#include "sparq_gemm.h"

// Parameters of one block of 16 channels as the vector code wants them.
struct rq_block {
    __m512i bias, me, mo, re, ro, se, so; // mult, round, shift of even / odd channels
    // When every channel's shift is >= 33 (all but the largest scales), the
    // result is a function of the product's high dword h alone:
    //   (p + 2^(s-1)) >> s = (h + 2^(s-33)) >> (s-32)   with p = h * 2^32 + l, 0 <= l < 2^32,
    // and |h| < 2^30 keeps the sum in int32; so the rounding, shift and clamp
    // run on 16 dword lanes (clamp = vpmovsdb's saturation) instead of twice 8 qword lanes.
    __m512i r32, s32; // 2^(s-33), s-32 per channel
    int high;         // 1 if that form applies to the whole block
};

// Block of channels p[0..n) (n may exceed 16; lanes past n get zeros).
static inline void rq_block_set(struct rq_block *b, const struct sparq_requant_params *p, int n)
{
    int32_t bias[16] = { 0 }, r32[16] = { 0 }, s32[16] = { 0 };
    int64_t q[6][8] = { { 0 } };
    b->high = 1;
    for (int j = 0; j < n && j < 16; j++) {
        bias[j] = p[j].bias;
        q[j % 2][j / 2] = p[j].mult;
        q[2 + j % 2][j / 2] = p[j].shift > 0 ? (int64_t)1 << (p[j].shift - 1) : 0;
        q[4 + j % 2][j / 2] = p[j].shift;
        b->high &= p[j].shift >= 33;
        r32[j] = p[j].shift >= 33 ? (int32_t)1 << (p[j].shift - 33) : 0;
        s32[j] = p[j].shift >= 33 ? p[j].shift - 32 : 0;
    }
    b->r32 = _mm512_loadu_si512(r32), b->s32 = _mm512_loadu_si512(s32);
    b->bias = _mm512_loadu_si512(bias);
    b->me = _mm512_loadu_si512(q[0]), b->mo = _mm512_loadu_si512(q[1]);
    b->re = _mm512_loadu_si512(q[2]), b->ro = _mm512_loadu_si512(q[3]);
    b->se = _mm512_loadu_si512(q[4]), b->so = _mm512_loadu_si512(q[5]);
}

// 8 int64 lanes: the low signed dword of each qword of v times mult, plus
// 2^(shift-1), arithmetic shift, clamp to int8.
static inline __m512i rq_requant8(__m512i v, __m512i mult, __m512i round, __m512i shift)
{
    const __m512i lo = _mm512_set1_epi64(-128), hi = _mm512_set1_epi64(127);
    __m512i p = _mm512_srav_epi64(_mm512_add_epi64(_mm512_mul_epi32(v, mult), round), shift);
    return _mm512_min_epi64(_mm512_max_epi64(p, lo), hi);
}

// 16 accumulators to 16 int8 codes. Even channels multiply in the low dwords
// of the qwords, odd ones after a 32-bit shift; the int8-range results merge
// back into channel order with one blend and leave as bytes with one vpmovdb
// (no 64-bit widening and no down-converting store, which cost several uops).
static inline __m128i rq_requant16(__m512i acc, const struct rq_block *b)
{
    const __m512i v = _mm512_add_epi32(acc, b->bias);
    if (b->high) { // high dwords of the even and odd products, merged into channel order
        const __m512i pe = _mm512_mul_epi32(v, b->me), po = _mm512_mul_epi32(_mm512_srli_epi64(v, 32), b->mo);
        const __m512i h = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe, 32), po);
        return _mm512_cvtsepi32_epi8(_mm512_srav_epi32(_mm512_add_epi32(h, b->r32), b->s32));
    }
    const __m512i e = rq_requant8(v, b->me, b->re, b->se);
    const __m512i d = rq_requant8(_mm512_srli_epi64(v, 32), b->mo, b->ro, b->so);
    return _mm512_cvtepi32_epi8(_mm512_mask_blend_epi32(0xAAAA, e, _mm512_slli_epi64(d, 32)));
}

// 16 codes to dst[0..16) under mask m. A full mask stores the register with
// a plain 16-byte store: left to itself GCC folds the masked byte store into
// vpmovdb to memory, which costs several uops.
static inline void rq_store16(int8_t *dst, __mmask16 m, __m128i c)
{
    if (m == 0xFFFF)
        _mm_storeu_si128((__m128i *)dst, c);
    else
        _mm_mask_storeu_epi8(dst, m, c);
}

#endif
