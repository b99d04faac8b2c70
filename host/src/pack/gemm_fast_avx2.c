// AVX2 kernel of the fast GEMM (layout in gemm_fast_internal.h). Two output
// rows x 32 X rows per step: 8 accumulators, one vpmaddwd per (row, 8 X rows,
// weight pair).
#include <immintrin.h>
#include <string.h>

#include "gemm_fast_internal.h"

static void store_row(int32_t *y, int y_stride, int o, int t0, int rows, const __m256i acc[4], int accumulate)
{
    int32_t lanes[FAST_TBLOCK];
    for (int v = 0; v < 4; v++)
        _mm256_storeu_si256((__m256i *)(lanes + 8 * v), acc[v]);
    for (int r = 0; r < rows; r++) {
        int32_t *dst = &y[(size_t)(t0 + r) * y_stride + o];
        *dst = accumulate ? (int32_t)((uint32_t)*dst + (uint32_t)lanes[r]) : lanes[r];
    }
}

void fast_block_avx2(int32_t *y, int y_stride, const int16_t *table, const struct sparq_gemm_prepared *w, int t0,
                     int rows, int accumulate)
{
    const int slots = w->slots;
    const size_t choice_stride = FAST_TBLOCK * 2;          // int16 per choice
    const size_t slot_stride = (size_t)w->choices * choice_stride;
    int o = 0;
    for (; o + 1 < w->out; o += 2) {
        __m256i a0[4], a1[4];
        for (int v = 0; v < 4; v++)
            a0[v] = a1[v] = _mm256_setzero_si256();
        const uint8_t *c0 = w->choice + (size_t)o * slots, *c1 = c0 + slots;
        const int32_t *w0 = w->wpair + (size_t)o * slots, *w1 = w0 + slots;
        for (int s = 0; s < slots; s++) {
            const int16_t *slot_tab = table + s * slot_stride;
            const __m256i *e0 = (const __m256i *)(slot_tab + c0[s] * choice_stride);
            const __m256i *e1 = (const __m256i *)(slot_tab + c1[s] * choice_stride);
            __m256i b0 = _mm256_set1_epi32(w0[s]), b1 = _mm256_set1_epi32(w1[s]);
#pragma GCC unroll 4
            for (int v = 0; v < 4; v++) {
                a0[v] = _mm256_add_epi32(a0[v], _mm256_madd_epi16(_mm256_load_si256(e0 + v), b0));
                a1[v] = _mm256_add_epi32(a1[v], _mm256_madd_epi16(_mm256_load_si256(e1 + v), b1));
            }
        }
        store_row(y, y_stride, o, t0, rows, a0, accumulate);
        store_row(y, y_stride, o + 1, t0, rows, a1, accumulate);
    }
    for (; o < w->out; o++) {
        __m256i a0[4];
        for (int v = 0; v < 4; v++)
            a0[v] = _mm256_setzero_si256();
        const uint8_t *c0 = w->choice + (size_t)o * slots;
        const int32_t *w0 = w->wpair + (size_t)o * slots;
        for (int s = 0; s < slots; s++) {
            const __m256i *e0 = (const __m256i *)(table + s * slot_stride + c0[s] * choice_stride);
            __m256i b0 = _mm256_set1_epi32(w0[s]);
#pragma GCC unroll 4
            for (int v = 0; v < 4; v++)
                a0[v] = _mm256_add_epi32(a0[v], _mm256_madd_epi16(_mm256_load_si256(e0 + v), b0));
        }
        store_row(y, y_stride, o, t0, rows, a0, accumulate);
    }
}

// Narrow path (int4/int2 codes), chunk by chunk of NARROW_CHUNK slots: the
// chunk's table slice (at most 8 slots x 16 choices x 64 bytes) stays in L1
// while every output row passes over it; 4 rows x 32 X rows of int16 sums
// live in registers and are widened into acc (out, 32) after each chunk.
#define NARROW_ROWS 4

static inline void widen_into(int32_t *acc_row, __m256i lo16, __m256i hi16)
{
    __m256i *a = (__m256i *)acc_row; // rows 0..7, 8..15, 16..23, 24..31
    a[0] = _mm256_add_epi32(a[0], _mm256_cvtepi16_epi32(_mm256_castsi256_si128(lo16)));
    a[1] = _mm256_add_epi32(a[1], _mm256_cvtepi16_epi32(_mm256_extracti128_si256(lo16, 1)));
    a[2] = _mm256_add_epi32(a[2], _mm256_cvtepi16_epi32(_mm256_castsi256_si128(hi16)));
    a[3] = _mm256_add_epi32(a[3], _mm256_cvtepi16_epi32(_mm256_extracti128_si256(hi16, 1)));
}

#define NARROW_STEP(R, LO, HI)                                                                         \
    do {                                                                                               \
        const __m256i *e = (const __m256i *)(tab + j * slot_stride + ch[(R)*NARROW_CHUNK + j] * 64); \
        __m256i b = _mm256_set1_epi16(wt[(R)*NARROW_CHUNK + j]);                                       \
        LO = _mm256_add_epi16(LO, _mm256_maddubs_epi16(_mm256_load_si256(e), b));                     \
        HI = _mm256_add_epi16(HI, _mm256_maddubs_epi16(_mm256_load_si256(e + 1), b));                 \
    } while (0)

void fast_block_avx2_narrow(int32_t *y, int y_stride, const uint8_t *table, int32_t *acc,
                            const struct sparq_gemm_prepared *w, int t0, int rows, int accumulate)
{
    _Static_assert(FAST_TBLOCK * 2 == 64, "a table entry is 64 bytes: 32 rows of u8 pairs");
    const size_t slot_stride = (size_t)w->choices * 64;
    const int out = w->out;
    memset(acc, 0, sizeof(int32_t) * (size_t)out * FAST_TBLOCK);
    for (int c = 0; c < w->chunks; c++) {
        const uint8_t *tab = table + (size_t)c * NARROW_CHUNK * slot_stride;
        const uint8_t *chunk_choice = w->nchoice + (size_t)c * out * NARROW_CHUNK;
        const int16_t *chunk_w = w->nweights + (size_t)c * out * NARROW_CHUNK;
        int o = 0;
        for (; o + NARROW_ROWS <= out; o += NARROW_ROWS) {
            const uint8_t *ch = chunk_choice + (size_t)o * NARROW_CHUNK;
            const int16_t *wt = chunk_w + (size_t)o * NARROW_CHUNK;
            __m256i a0 = _mm256_setzero_si256(), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0;
            for (int j = 0; j < NARROW_CHUNK; j++) {
                NARROW_STEP(0, a0, b0);
                NARROW_STEP(1, a1, b1);
                NARROW_STEP(2, a2, b2);
                NARROW_STEP(3, a3, b3);
            }
            widen_into(acc + (size_t)(o + 0) * FAST_TBLOCK, a0, b0);
            widen_into(acc + (size_t)(o + 1) * FAST_TBLOCK, a1, b1);
            widen_into(acc + (size_t)(o + 2) * FAST_TBLOCK, a2, b2);
            widen_into(acc + (size_t)(o + 3) * FAST_TBLOCK, a3, b3);
        }
        for (; o < out; o++) {
            const uint8_t *ch = chunk_choice + (size_t)o * NARROW_CHUNK;
            const int16_t *wt = chunk_w + (size_t)o * NARROW_CHUNK;
            __m256i a0 = _mm256_setzero_si256(), b0 = a0;
            for (int j = 0; j < NARROW_CHUNK; j++)
                NARROW_STEP(0, a0, b0);
            widen_into(acc + (size_t)o * FAST_TBLOCK, a0, b0);
        }
    }
    // Remove the +128 offset: sum (x+128) w = sum x w + 128 sum w.
    for (int o = 0; o < out; o++) {
        const int32_t offset = (int32_t)((uint32_t)w->rowsum[o] * 128u);
        const int32_t *a = acc + (size_t)o * FAST_TBLOCK;
        for (int r = 0; r < rows; r++) {
            int32_t *dst = &y[(size_t)(t0 + r) * y_stride + o];
            int32_t v = (int32_t)((uint32_t)a[r] - (uint32_t)offset);
            *dst = accumulate ? (int32_t)((uint32_t)*dst + (uint32_t)v) : v;
        }
    }
}

// Activation tables built with vector interleaves: X rows t0..t0+31 are first
// transposed to channel-major xt[k][32], then each (slot, choice) entry is the
// byte/word interleave of two channel rows.
static void transpose_block(uint8_t *xt_u8, int16_t *xt_i16, const struct sparq_gemm_prepared *w, const int8_t *x,
                            int x_stride, int t0, int rows)
{
    for (int k = 0; k < w->in_pad; k++)
        for (int r = 0; r < FAST_TBLOCK; r++) {
            int v = (k < w->in && r < rows) ? x[(size_t)(t0 + r) * x_stride + k] : 0;
            if (xt_u8)
                xt_u8[k * FAST_TBLOCK + r] = (uint8_t)(v + 128);
            else
                xt_i16[k * FAST_TBLOCK + r] = (int16_t)v;
        }
}

void fast_fill_table_u8_avx2(uint8_t *table, uint8_t *xt, const struct sparq_gemm_prepared *w, const int8_t *x,
                             int x_stride, int t0, int rows)
{
    transpose_block(xt, NULL, w, x, x_stride, t0, rows);
    __m256i *out = (__m256i *)table;
    // Slots past the last one (chunk padding) carry weight 0; their entries
    // repeat the last slot so every byte of the table is defined.
    for (int s = 0; s < w->chunks * NARROW_CHUNK; s++)
        for (int c = 0; c < w->choices; c++) {
            const int sl = s < w->slots ? s : w->slots - 1;
            const int k1 = sl * w->slot_width + w->pairs[c][0], k2 = sl * w->slot_width + w->pairs[c][1];
            __m256i a = _mm256_loadu_si256((const __m256i *)(xt + k1 * FAST_TBLOCK));
            __m256i b = _mm256_loadu_si256((const __m256i *)(xt + k2 * FAST_TBLOCK));
            __m256i lo = _mm256_unpacklo_epi8(a, b), hi = _mm256_unpackhi_epi8(a, b);
            _mm256_store_si256(out++, _mm256_permute2x128_si256(lo, hi, 0x20)); // rows 0..15
            _mm256_store_si256(out++, _mm256_permute2x128_si256(lo, hi, 0x31)); // rows 16..31
        }
}

void fast_fill_table_avx2(int16_t *table, int16_t *xt, const struct sparq_gemm_prepared *w, const int8_t *x,
                          int x_stride, int t0, int rows)
{
    transpose_block(NULL, xt, w, x, x_stride, t0, rows);
    __m256i *out = (__m256i *)table;
    for (int s = 0; s < w->slots; s++)
        for (int c = 0; c < w->choices; c++) {
            const int k1 = s * w->slot_width + w->pairs[c][0], k2 = s * w->slot_width + w->pairs[c][1];
            for (int h = 0; h < 2; h++) { // rows 16h .. 16h+15
                __m256i a = _mm256_loadu_si256((const __m256i *)(xt + k1 * FAST_TBLOCK + 16 * h));
                __m256i b = _mm256_loadu_si256((const __m256i *)(xt + k2 * FAST_TBLOCK + 16 * h));
                __m256i lo = _mm256_unpacklo_epi16(a, b), hi = _mm256_unpackhi_epi16(a, b);
                _mm256_store_si256(out++, _mm256_permute2x128_si256(lo, hi, 0x20));
                _mm256_store_si256(out++, _mm256_permute2x128_si256(lo, hi, 0x31));
            }
        }
}
