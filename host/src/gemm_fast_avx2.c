// AVX2 kernel of the fast GEMM (layout in gemm_fast_internal.h). Two output
// rows x 32 X rows per step: 8 accumulators, one vpmaddwd per (row, 8 X rows,
// weight pair).
#include <immintrin.h>

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
            for (int v = 0; v < 4; v++)
                a0[v] = _mm256_add_epi32(a0[v], _mm256_madd_epi16(_mm256_load_si256(e0 + v), b0));
        }
        store_row(y, y_stride, o, t0, rows, a0, accumulate);
    }
}

// Narrow path (int4/int2 codes): 4 output rows x 32 X rows per step. The
// int16 sums of vpmaddubsw are widened to int32 every narrow_run slots.
#define NARROW_ROWS 4
void fast_block_avx2_narrow(int32_t *y, int y_stride, const uint8_t *table, const struct sparq_gemm_prepared *w,
                            int t0, int rows, int accumulate)
{
    const int slots = w->slots, run = w->narrow_run;
    const size_t choice_stride = FAST_TBLOCK * 2; // bytes per choice
    const size_t slot_stride = (size_t)w->choices * choice_stride;
    for (int o = 0; o < w->out; o += NARROW_ROWS) {
        const int nr = w->out - o < NARROW_ROWS ? w->out - o : NARROW_ROWS;
        __m256i acc32[NARROW_ROWS][4];
        for (int r = 0; r < NARROW_ROWS; r++)
            for (int v = 0; v < 4; v++)
                acc32[r][v] = _mm256_setzero_si256();
        for (int s0 = 0; s0 < slots; s0 += run) {
            const int s1 = s0 + run < slots ? s0 + run : slots;
            __m256i acc16[NARROW_ROWS][2];
            for (int r = 0; r < NARROW_ROWS; r++)
                acc16[r][0] = acc16[r][1] = _mm256_setzero_si256();
            if (nr == NARROW_ROWS) {
                const uint8_t *c0 = w->choice + (size_t)o * slots;
                const int16_t *w0 = w->wbytes + (size_t)o * slots;
                for (int s = s0; s < s1; s++) {
                    const uint8_t *slot_tab = table + s * slot_stride;
                    for (int r = 0; r < NARROW_ROWS; r++) {
                        const __m256i *e = (const __m256i *)(slot_tab + c0[r * slots + s] * choice_stride);
                        __m256i b = _mm256_set1_epi16(w0[r * slots + s]);
                        acc16[r][0] = _mm256_add_epi16(acc16[r][0], _mm256_maddubs_epi16(_mm256_load_si256(e), b));
                        acc16[r][1] =
                            _mm256_add_epi16(acc16[r][1], _mm256_maddubs_epi16(_mm256_load_si256(e + 1), b));
                    }
                }
            } else {
                for (int r = 0; r < nr; r++) {
                    const uint8_t *c0 = w->choice + (size_t)(o + r) * slots;
                    const int16_t *w0 = w->wbytes + (size_t)(o + r) * slots;
                    for (int s = s0; s < s1; s++) {
                        const __m256i *e = (const __m256i *)(table + s * slot_stride + c0[s] * choice_stride);
                        __m256i b = _mm256_set1_epi16(w0[s]);
                        acc16[r][0] = _mm256_add_epi16(acc16[r][0], _mm256_maddubs_epi16(_mm256_load_si256(e), b));
                        acc16[r][1] =
                            _mm256_add_epi16(acc16[r][1], _mm256_maddubs_epi16(_mm256_load_si256(e + 1), b));
                    }
                }
            }
            // Widen: int16 lane i of vector h is X row 16h + i.
            for (int r = 0; r < nr; r++)
                for (int h = 0; h < 2; h++) {
                    __m256i lo = _mm256_cvtepi16_epi32(_mm256_castsi256_si128(acc16[r][h]));
                    __m256i hi = _mm256_cvtepi16_epi32(_mm256_extracti128_si256(acc16[r][h], 1));
                    acc32[r][2 * h] = _mm256_add_epi32(acc32[r][2 * h], lo);
                    acc32[r][2 * h + 1] = _mm256_add_epi32(acc32[r][2 * h + 1], hi);
                }
        }
        // Remove the +128 offset: sum (x+128) w = sum x w + 128 sum w.
        for (int r = 0; r < nr; r++) {
            __m256i offset = _mm256_set1_epi32((int32_t)((uint32_t)w->rowsum[o + r] * 128u));
            for (int v = 0; v < 4; v++)
                acc32[r][v] = _mm256_sub_epi32(acc32[r][v], offset);
            store_row(y, y_stride, o + r, t0, rows, acc32[r], accumulate);
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
    for (int s = 0; s < w->slots; s++)
        for (int c = 0; c < w->choices; c++) {
            const int k1 = s * w->slot_width + w->pairs[c][0], k2 = s * w->slot_width + w->pairs[c][1];
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
