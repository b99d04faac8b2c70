// The 2:4 kernel of the VNNI path with frames as the vector dimension, so
// that a skipped weight is skipped work (layout "f24_*" in
// gemm_fast_internal.h).
//
// An "8-slot" is two groups of 4 channels; a 2:4 row keeps 2 + 2 of its 8
// activations, in one of 6 x 6 = 36 patterns. Per call, per block of 32
// frames and chunk of slots, every pattern's 4 kept activations of every
// frame are gathered once (vpermt2b) into a table of 36 x 2 zmm per slot
// (16 frames of 4 u8 per zmm). Every output then meets its pattern's two
// table lines with its 4 kept weights broadcast: 2 vpdpbusd per 8 channels,
// each doing 64 useful multiply-adds, against 4 for the dense kernel. The
// pattern is chosen by address (a load), not by a shuffle, so the shuffle
// port only pays for the table (36 x 2 per slot and 32 frames, shared by all
// outputs) and the final 16 x 16 transposes to (frame, output) order.
//
// Measured slower than the shuffle kernel on this project's machine (Xeon
// with AVX-512 VBMI, 144x144, T = 256: 43 us against 20 us; docs/kernel.md
// has the breakdown), so it is off unless sparq_gemm_frame24(1) turns it on;
// test_gemm keeps it bit-exact.
#pragma GCC target("avx512vbmi")
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#include "gemm_fast_internal.h"

#define F24_CHUNK_MAX 8 // slots per table chunk: 8 x 36 x 128 B = 36 KB, within L1

static inline __attribute__((always_inline)) __m512i dpbusd(__m512i acc, __m512i u8, __m512i s8)
{
    __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u8), "vm"(s8));
    return acc;
}

// Index vectors of vpermt2b: source = 16 frames x 8 channels (2 zmm), lane f
// of pattern p = channels a1, b1 (first group), 4 + a2, 4 + b2 of frame f.
static __m512i perm_idx[F24_PATTERNS];
static void init_perm(void)
{
    static const uint8_t pairs[6][2] = { { 0, 1 }, { 0, 2 }, { 0, 3 }, { 1, 2 }, { 1, 3 }, { 2, 3 } };
    for (int p = 0; p < F24_PATTERNS; p++) {
        uint8_t b[64];
        const uint8_t *g1 = pairs[p / 6], *g2 = pairs[p % 6];
        for (int f = 0; f < 16; f++) {
            b[4 * f + 0] = (uint8_t)(8 * f + g1[0]);
            b[4 * f + 1] = (uint8_t)(8 * f + g1[1]);
            b[4 * f + 2] = (uint8_t)(8 * f + 4 + g2[0]);
            b[4 * f + 3] = (uint8_t)(8 * f + 4 + g2[1]);
        }
        perm_idx[p] = _mm512_loadu_si512(b);
    }
}

// Rows r[0..15] (16 int32 each) transposed in place: r[j][i] = old r[i][j].
static inline void transpose16(__m512i r[16])
{
    __m512i t[16], u[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    for (int g = 0; g < 4; g++) {
        u[4 * g + 0] = _mm512_unpacklo_epi64(t[4 * g], t[4 * g + 2]);
        u[4 * g + 1] = _mm512_unpackhi_epi64(t[4 * g], t[4 * g + 2]);
        u[4 * g + 2] = _mm512_unpacklo_epi64(t[4 * g + 1], t[4 * g + 3]);
        u[4 * g + 3] = _mm512_unpackhi_epi64(t[4 * g + 1], t[4 * g + 3]);
    }
    // u[4g + m], 128-bit lane L = rows 4g..4g+3 at column 4L + m.
    for (int m = 0; m < 4; m++) {
        __m512i v = _mm512_shuffle_i32x4(u[m], u[4 + m], 0x88), w = _mm512_shuffle_i32x4(u[m], u[4 + m], 0xDD);
        __m512i v2 = _mm512_shuffle_i32x4(u[8 + m], u[12 + m], 0x88);
        __m512i w2 = _mm512_shuffle_i32x4(u[8 + m], u[12 + m], 0xDD);
        r[m] = _mm512_shuffle_i32x4(v, v2, 0x88);
        r[8 + m] = _mm512_shuffle_i32x4(v, v2, 0xDD);
        r[4 + m] = _mm512_shuffle_i32x4(w, w2, 0x88);
        r[12 + m] = _mm512_shuffle_i32x4(w, w2, 0xDD);
    }
}

// Per-thread buffers kept between calls (no allocation once warm).
struct f24_buf {
    uint8_t *p;
    size_t cap;
};
static _Thread_local struct f24_buf tls_xs, tls_tab, tls_acc;

static uint8_t *reserve(struct f24_buf *b, size_t need)
{
    if (need > b->cap) {
        free(b->p);
        b->cap = 0;
        b->p = aligned_alloc(64, (need + 63) / 64 * 64);
        if (b->p)
            b->cap = need;
    }
    return b->p;
}

// One block of 32 frames from t0 (rows valid of them), all outputs.
static void block32(int32_t *y, int y_stride, const uint8_t *xs, int tpad, uint8_t *tab, int32_t *acc,
                    const struct sparq_gemm_prepared *w, int t0, int rows, int accumulate)
{
    const int slots = w->f24_slots, og = w->f24_ogroups;
    const int nchunks = (slots + F24_CHUNK_MAX - 1) / F24_CHUNK_MAX;
    const int per_chunk = (slots + nchunks - 1) / nchunks;
    for (int s0 = 0; s0 < slots; s0 += per_chunk) {
        const int sn = slots - s0 < per_chunk ? slots - s0 : per_chunk;
        // The chunk's table: per slot, per pattern, frames 0-15 then 16-31.
        for (int s = 0; s < sn; s++) {
            const uint8_t *src = xs + ((size_t)(s0 + s) * tpad + t0) * 8;
            __m512i a0 = _mm512_load_si512(src), a1 = _mm512_load_si512(src + 64);
            __m512i a2 = _mm512_load_si512(src + 128), a3 = _mm512_load_si512(src + 192);
            __m512i *dst = (__m512i *)(tab + (size_t)s * F24_PATTERNS * 128);
            for (int p = 0; p < F24_PATTERNS; p++) {
                _mm512_store_si512(dst + 2 * p, _mm512_permutex2var_epi8(a0, perm_idx[p], a1));
                _mm512_store_si512(dst + 2 * p + 1, _mm512_permutex2var_epi8(a2, perm_idx[p], a3));
            }
        }
        for (int g = 0; g < og; g++) {
            __m512i c[F24_NO][2];
            int32_t *ag = acc + (size_t)g * F24_NO * 32;
            if (s0 == 0) {
#pragma GCC unroll 8
                for (int j = 0; j < F24_NO; j++)
                    c[j][0] = c[j][1] = _mm512_setzero_si512();
            } else {
#pragma GCC unroll 8
                for (int j = 0; j < F24_NO; j++) {
                    c[j][0] = _mm512_load_si512(ag + 32 * j);
                    c[j][1] = _mm512_load_si512(ag + 32 * j + 16);
                }
            }
            const int32_t *wg = w->f24_w + ((size_t)g * slots + s0) * F24_NO;
            const uint16_t *og_off = w->f24_off + ((size_t)g * slots + s0) * F24_NO;
            for (int s = 0; s < sn; s++) {
                const uint8_t *ts = tab + (size_t)s * F24_PATTERNS * 128;
#pragma GCC unroll 8
                for (int j = 0; j < F24_NO; j++) {
                    const uint8_t *line = ts + og_off[s * F24_NO + j];
                    __m512i wv = _mm512_set1_epi32(wg[s * F24_NO + j]);
                    c[j][0] = dpbusd(c[j][0], _mm512_load_si512(line), wv);
                    c[j][1] = dpbusd(c[j][1], _mm512_load_si512(line + 64), wv);
                }
            }
#pragma GCC unroll 8
            for (int j = 0; j < F24_NO; j++) {
                _mm512_store_si512(ag + 32 * j, c[j][0]);
                _mm512_store_si512(ag + 32 * j + 16, c[j][1]);
            }
        }
    }
    // (output, frame) sums to y (frame, output): 16 x 16 transposes, minus
    // the u8 offset's 128 * rowsum.
    for (int o0 = 0; o0 < w->out; o0 += 16) {
        const int left = w->out - o0;
        const __mmask16 m = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
        const __m512i corr = _mm512_load_si512(w->vn_corr + o0);
        for (int h = 0; h < 2 && 16 * h < rows; h++) {
            __m512i r[16];
            for (int i = 0; i < 16; i++)
                r[i] = _mm512_load_si512(acc + (size_t)(o0 + i) * 32 + 16 * h);
            transpose16(r);
            for (int i = 0; i < 16 && 16 * h + i < rows; i++) {
                int32_t *dst = y + (size_t)(t0 + 16 * h + i) * y_stride + o0;
                __m512i v = _mm512_sub_epi32(r[i], corr);
                if (accumulate)
                    v = _mm512_add_epi32(v, _mm512_maskz_loadu_epi32(m, dst));
                _mm512_mask_storeu_epi32(dst, m, v);
            }
        }
    }
}

int fast_gemm_f24_avx512(int32_t *y, int y_stride, const int8_t *x, int x_stride, const struct sparq_gemm_prepared *w,
                         int t, int accumulate)
{
    static int ready; // a race only repeats the same writes; release/acquire orders them before `ready`
    if (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE)) {
        init_perm();
        __atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
    }
    const int slots = w->f24_slots, tpad = (t + 31) / 32 * 32;
    const int nblocks = tpad / 32;
    // Activations once per call: u8 (x + 128) in (slot, frame, 8) order;
    // padding channels and frames hold 128 (x = 0).
    uint8_t *xs = reserve(&tls_xs, (size_t)slots * tpad * 8);
    if (!xs)
        return -1;
    // Full slots by 8-byte copies; the last row's partial slot, padding
    // channels and padding frames through a zeroed qword.
    const uint64_t flip = 0x8080808080808080ull;
    const int full = w->in / 8;
    for (int r = 0; r < tpad; r++) {
        const int8_t *xr = x + (size_t)(r < t ? r : 0) * x_stride;
        int s = 0;
        if (r < t)
            for (; s < full; s++) {
                uint64_t q;
                memcpy(&q, xr + 8 * s, 8);
                q ^= flip;
                memcpy(xs + ((size_t)s * tpad + r) * 8, &q, 8);
            }
        for (; s < slots; s++) {
            uint8_t q[8];
            for (int j = 0; j < 8; j++)
                q[j] = (uint8_t)((r < t && 8 * s + j < w->in ? xr[8 * s + j] : 0) ^ 0x80);
            memcpy(xs + ((size_t)s * tpad + r) * 8, q, 8);
        }
    }
    int failed = 0;
    const int big = (double)t * w->out * w->in >= 4e6;
#pragma omp parallel for schedule(static) if (big) reduction(| : failed)
    for (int bi = 0; bi < nblocks; bi++) {
        uint8_t *tab = reserve(&tls_tab, (size_t)F24_CHUNK_MAX * F24_PATTERNS * 128);
        int32_t *acc = (int32_t *)reserve(&tls_acc, (size_t)w->f24_ogroups * F24_NO * 32 * sizeof(int32_t));
        if (!tab || !acc) {
            failed = 1;
            continue;
        }
        int t0 = bi * 32, rows = t - t0 < 32 ? t - t0 : 32;
        block32(y, y_stride, xs, tpad, tab, acc, w, t0, rows, accumulate);
    }
    return failed ? -1 : 0;
}
