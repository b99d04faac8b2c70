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
