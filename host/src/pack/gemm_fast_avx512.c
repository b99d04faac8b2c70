// AVX-512 VNNI kernel of the fast GEMM (layout "vn_*" in gemm_fast_internal.h).
// One vpdpbusd multiplies 4 u8 activations by 4 int8 weights in each of 16
// output lanes and adds the sums into int32 (wrapping, like the reference).
// Activations are offset to u8 once per call (x ^ 0x80 = x + 128); the
// sums start at -128 * (row sum of the codes), which removes the offset.
// Sparse rows pick their kept activations with one shuffle per 4 kept
// weights, so a 2:4 row costs half the vpdpbusd of a dense one and a 1:4 row
// a quarter: vpermb (AVX-512 VBMI) from the aligned 64-channel block that
// holds the 16-channel block (the indices carry 16 * (block % 4)), else
// vpshufb from the 16-channel block broadcast to every 128-bit lane. On Zen 4
// the broadcast load costs a vector pipe slot that vpermb's plain load does
// not: 1.63 -> 1.33 cycles per shuffle + vpdpbusd (bench-gemm --micro).
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#include "gemm_fast_internal.h"
#include "gemm_rq_avx512.h"

// The fused read-out (sparq_gemm_fast_requant): int8 codes instead of int32
// sums, optionally through a byte table, written by each tile from its
// registers, so the sums never reach memory.
struct vn_epi {
    int8_t *y8;
    int ldy8;
    const struct rq_block *rq; // (vn_oblocks)
    void (*lut)(int8_t *, size_t, const int8_t *);
    const int8_t *table;
    // With VBMI the table is applied in the tile from these registers (two
    // vpermt2b and a blend per row), not by a call per row that reloads it.
    int vlut;
    __m512i t[4];
};

// Tile: VN_NR blocks of 16 outputs x up to VN_MR rows of X, all accumulators
// in registers: dense 8 x 3 (+ 3 weights + 1 broadcast of 32 zmm), sparse
// 6 x 3 (+ 3 weights + 3 indices + 2).
#define VN_MR 8
#define VN_MR_SPARSE 6
#define VN_NR 3
#define VN_CHUNK 8 // row tiles per call of a tile function

// Converts x (t, in) to u8 (t, ldx): x + 128, padding channels 128 (x = 0).
static void offset_rows(uint8_t *xu, int ldx, const int8_t *x, int x_stride, int t, int in)
{
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    for (int r = 0; r < t; r++)
        for (int k = 0; k < ldx; k += 64) {
            int valid = in - k;
            __mmask64 m = valid >= 64 ? ~(__mmask64)0 : valid > 0 ? ((__mmask64)1 << valid) - 1 : 0;
            __m512i v = _mm512_maskz_loadu_epi8(m, x + (size_t)r * x_stride + k);
            __mmask64 keep = ldx - k >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << (ldx - k)) - 1;
            _mm512_mask_storeu_epi8(xu + (size_t)r * ldx + k, keep, _mm512_xor_si512(v, flip));
        }
}

// acc += u8 x s8 dot products. Written in asm because GCC 12 treats the
// intrinsic as non-destructive and copies and spills the accumulators.
static inline __attribute__((always_inline)) __m512i dpbusd(__m512i acc, __m512i u8, __m512i s8)
{
    __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u8), "vm"(s8));
    return acc;
}

// Bytes of x at the low 6 bits of idx (vpermb, AVX-512 VBMI). In asm so this
// file needs no VBMI flag; it only runs when the CPU has it (vn_gemm).
static inline __attribute__((always_inline)) __m512i permb(__m512i idx, __m512i x)
{
    __m512i r;
    __asm__("vpermb %2, %1, %0" : "=v"(r) : "v"(idx), "v"(x));
    return r;
}

// Entries of the 128-byte table (lo, hi) at the low 7 bits of idx
// (vpermt2b, VBMI; asm for the same reason as permb).
static inline __attribute__((always_inline)) __m512i permt2b(__m512i lo, __m512i idx, __m512i hi)
{
    __asm__("vpermt2b %2, %1, %0" : "+v"(lo) : "v"(idx), "vm"(hi));
    return lo;
}

// The fused read-out of a tile: per row, the NR blocks' 16 codes side by
// side in one register, through the table in registers if there is one
// (VBMI), then one store of the row's up to 48 codes.
static inline __attribute__((always_inline)) void epi_codes(const int MR, const int NR, __m512i acc[VN_MR][VN_NR],
                                                            const struct sparq_gemm_prepared *w, int t0, int ob,
                                                            const struct vn_epi *epi)
{
    const int o0 = ob * 16, n = w->out - o0 < 16 * NR ? w->out - o0 : 16 * NR;
    const __mmask64 m = ((__mmask64)1 << n) - 1; // n <= 48
    const __m512i flip = _mm512_set1_epi8((char)0x80);
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
        __m512i c = _mm512_castsi128_si512(rq_requant16(acc[i][0], &epi->rq[ob]));
        if (NR > 1)
            c = _mm512_inserti32x4(c, rq_requant16(acc[i][1], &epi->rq[ob + 1]), 1);
        if (NR > 2)
            c = _mm512_inserti32x4(c, rq_requant16(acc[i][2], &epi->rq[ob + 2]), 2);
        if (epi->vlut) {
            const __m512i idx = _mm512_xor_si512(c, flip); // code + 128
            const __m512i lo = permt2b(epi->t[0], idx, epi->t[1]), hi = permt2b(epi->t[2], idx, epi->t[3]);
            c = _mm512_mask_blend_epi8(_mm512_movepi8_mask(idx), lo, hi);
        }
        int8_t *row = epi->y8 + (size_t)(t0 + i) * epi->ldy8 + o0;
        _mm512_mask_storeu_epi8(row, m, c);
        if (epi->lut && !epi->vlut)
            epi->lut(row, (size_t)n, epi->table);
    }
}

// One tile: MR rows of X from t0, NR blocks of 16 outputs from block ob.
// STEPS dwords per 16-channel block; SHUF selects bytes with vpshufb (1) or
// vpermb (2), 0 is dense.
static inline __attribute__((always_inline)) void tile(const int MR, const int NR, const int STEPS, const int SHUF,
                                                       int32_t *y, int y_stride, const uint8_t *xu, int ldx,
                                                       const struct sparq_gemm_prepared *w, int t0, int ob,
                                                       int accumulate, const struct vn_epi *epi)
{
    // The sums start at -128 * rowsum (the u8 offset's share), so the
    // epilogue needs no subtraction: 3 vector ops per tile instead of MR * NR.
    __m512i acc[VN_MR][VN_NR];
#pragma GCC unroll 4
    for (int j = 0; j < NR; j++) {
        const __m512i neg = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_load_si512(w->vn_corr + (ob + j) * 16));
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++)
            acc[i][j] = neg;
    }
    const size_t oblock_bytes = (size_t)w->vn_kblocks * STEPS * 64;
    const int8_t *wb = w->vn_w + (size_t)ob * oblock_bytes;
    const uint8_t *ib = w->vn_idx ? w->vn_idx + (size_t)ob * oblock_bytes : NULL;
    const uint8_t *xr = xu + (size_t)t0 * ldx;
    for (int b = 0; b < w->vn_kblocks; b++) {
#pragma GCC unroll 4
        for (int s = 0; s < STEPS; s++) {
            const size_t at = ((size_t)b * STEPS + s) * 64;
            __m512i wv[VN_NR], iv[VN_NR];
#pragma GCC unroll 4
            for (int j = 0; j < NR; j++) {
                wv[j] = _mm512_load_si512(wb + j * oblock_bytes + at);
                if (SHUF)
                    iv[j] = _mm512_load_si512(ib + j * oblock_bytes + at);
            }
#pragma GCC unroll 8
            for (int i = 0; i < MR; i++) {
                const uint8_t *xp = xr + (size_t)i * ldx + 16 * b;
                if (SHUF == 2) {
                    __m512i xb = _mm512_load_si512(xr + (size_t)i * ldx + 64 * (b >> 2));
#pragma GCC unroll 4
                    for (int j = 0; j < NR; j++)
                        acc[i][j] = dpbusd(acc[i][j], permb(iv[j], xb), wv[j]);
                } else if (SHUF) {
                    __m512i xb = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)xp));
#pragma GCC unroll 4
                    for (int j = 0; j < NR; j++)
                        acc[i][j] = dpbusd(acc[i][j], _mm512_shuffle_epi8(xb, iv[j]), wv[j]);
                } else {
                    int32_t q;
                    memcpy(&q, xp + 4 * s, 4);
                    __m512i xb = _mm512_set1_epi32(q);
#pragma GCC unroll 4
                    for (int j = 0; j < NR; j++)
                        acc[i][j] = dpbusd(acc[i][j], xb, wv[j]);
                }
            }
        }
    }
    if (epi) {
        epi_codes(MR, NR, acc, w, t0, ob, epi);
        return;
    }
#pragma GCC unroll 4
    for (int j = 0; j < NR; j++) {
        const int o0 = (ob + j) * 16, left = w->out - o0;
        const __mmask16 m = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            __m512i v = acc[i][j];
            int32_t *dst = y + (size_t)(t0 + i) * y_stride + o0;
            if (accumulate)
                v = _mm512_add_epi32(v, _mm512_maskz_loadu_epi32(m, dst));
            _mm512_mask_storeu_epi32(dst, m, v);
        }
    }
}

#define VN_ARGS y, y_stride, xu, ldx, w, r0, ob, accumulate, epi
#define VN_CASE(MR, NR) \
    case MR * 4 + NR: tile(MR, NR, STEPS, SHUF, VN_ARGS); break;
#define VN_CASES_6                                                                               \
    VN_CASE(1, 1) VN_CASE(1, 2) VN_CASE(1, 3) VN_CASE(2, 1) VN_CASE(2, 2) VN_CASE(2, 3) VN_CASE(3, 1) \
    VN_CASE(3, 2) VN_CASE(3, 3) VN_CASE(4, 1) VN_CASE(4, 2) VN_CASE(4, 3) VN_CASE(5, 1) VN_CASE(5, 2) \
    VN_CASE(5, 3) VN_CASE(6, 1) VN_CASE(6, 2) VN_CASE(6, 3)
#define VN_CASES_8 VN_CASES_6 VN_CASE(7, 1) VN_CASE(7, 2) VN_CASE(7, 3) VN_CASE(8, 1) VN_CASE(8, 2) VN_CASE(8, 3)
// Rows [t0, t1) in tiles of mr_max rows, nr blocks of outputs from ob: the
// row loop here rather than around the call saves a call per tile.
#define VN_KIND(NAME, STEPS_, SHUF_, CASES)                                                                            \
    static void NAME(int mr_max, int nr, int32_t *y, int y_stride, const uint8_t *xu, int ldx,                         \
                     const struct sparq_gemm_prepared *w, int t0, int t1, int ob, int accumulate,                      \
                     const struct vn_epi *epi)                                                                         \
    {                                                                                                                  \
        enum { STEPS = STEPS_, SHUF = SHUF_ };                                                                         \
        for (int r0 = t0; r0 < t1; r0 += mr_max) {                                                                     \
            const int mr = t1 - r0 < mr_max ? t1 - r0 : mr_max;                                                        \
            switch (mr * 4 + nr) {                                                                                     \
                CASES                                                                                                  \
            default:                                                                                                   \
                break;                                                                                                 \
            }                                                                                                          \
        }                                                                                                              \
    }
VN_KIND(tile_dense, 4, 0, VN_CASES_8)
VN_KIND(tile_2of4, 2, 1, VN_CASES_6)
VN_KIND(tile_1of4, 1, 1, VN_CASES_6)
VN_KIND(tile_2of4_vbmi, 2, 2, VN_CASES_6)
VN_KIND(tile_1of4_vbmi, 1, 2, VN_CASES_6)

// Both entry points: int32 sums into y (epi NULL) or fused int8 codes.
static int vn_gemm(int32_t *y, int y_stride, const int8_t *x, int x_stride, const struct sparq_gemm_prepared *w, int t,
                   int accumulate, const struct vn_epi *epi)
{
    // The u8 activations live in a per-thread buffer kept between calls, so
    // a call costs no allocation (and no page faults) once warm.
    static _Thread_local uint8_t *buf;
    static _Thread_local size_t cap;
    // vpermb loads whole aligned 64-byte blocks: rows padded to a multiple of 64.
    const int vbmi = w->vn_steps < 4 && fast_vbmi_wanted();
    const int ldx = vbmi ? (w->in_pad + 63) / 64 * 64 : w->in_pad;
    const size_t need = (size_t)t * ldx + 64;
    if (need > cap) {
        free(buf);
        cap = 0;
        buf = aligned_alloc(64, (need + 63) / 64 * 64);
        if (!buf)
            return -1;
        cap = need;
    }
    uint8_t *xu = buf;
    offset_rows(xu, ldx, x, x_stride, t, w->in);
    void (*kind)(int, int, int32_t *, int, const uint8_t *, int, const struct sparq_gemm_prepared *, int, int, int, int,
                 const struct vn_epi *) = w->vn_steps == 4   ? tile_dense
                                          : w->vn_steps == 2 ? (vbmi ? tile_2of4_vbmi : tile_2of4)
                                                             : (vbmi ? tile_1of4_vbmi : tile_1of4);
    const int mr_max = w->vn_steps == 4 ? VN_MR : VN_MR_SPARSE;
    // Rows in chunks of VN_CHUNK tiles: one call each, and work to share among threads.
    const int chunk = VN_CHUNK * mr_max;
    const int otiles = (w->vn_oblocks + VN_NR - 1) / VN_NR, tchunks = (t + chunk - 1) / chunk;
    // Threads only pay off on large products; small ones stay on the caller.
    // Counted in the MACs the kernel does (2:4 half, 1:4 a quarter of dense):
    // int2 1:4 on 576x144 split over two threads ran slower than on one.
    const int big = (double)t * w->out * w->in * w->vn_steps / 4 >= 4e6;
    // Output tiles outer: one tile's weights stay in L1 while X rows stream.
#pragma omp parallel for collapse(2) schedule(static) if (big)
    for (int ot = 0; ot < otiles; ot++)
        for (int tc = 0; tc < tchunks; tc++) {
            int ob = ot * VN_NR, t0 = tc * chunk, t1 = t - t0 < chunk ? t : t0 + chunk;
            int nr = w->vn_oblocks - ob < VN_NR ? w->vn_oblocks - ob : VN_NR;
            kind(mr_max, nr, y, y_stride, xu, ldx, w, t0, t1, ob, accumulate, epi);
        }
    return 0;
}

int fast_gemm_avx512vnni(int32_t *y, int y_stride, const int8_t *x, int x_stride,
                         const struct sparq_gemm_prepared *w, int t, int accumulate)
{
    if (fast_f24_wanted(w, t))
        return fast_gemm_f24_avx512(y, y_stride, x, x_stride, w, t, accumulate);
    return vn_gemm(y, y_stride, x, x_stride, w, t, accumulate, NULL);
}

int fast_gemm_requant_avx512vnni(int8_t *y8, int ldy8, const int8_t *x, int x_stride,
                                 const struct sparq_gemm_prepared *w, int t, const struct sparq_requant_params *rq,
                                 const int8_t *lut, void (*lut_fn)(int8_t *, size_t, const int8_t *))
{
    struct rq_block *blk = aligned_alloc(64, sizeof *blk * (size_t)w->vn_oblocks);
    if (!blk)
        return -1;
    for (int b = 0; b < w->vn_oblocks; b++)
        rq_block_set(&blk[b], rq + 16 * b, w->out - 16 * b);
    struct vn_epi epi = { y8, ldy8, blk, lut ? lut_fn : NULL, lut, 0, { { 0 } } };
    if (lut && fast_vbmi_wanted()) { // off with sparq_gemm_disable_vbmi: the tests reach the call per row too
        epi.vlut = 1;
        for (int q = 0; q < 4; q++)
            epi.t[q] = _mm512_loadu_si512(lut + 64 * q);
    }
    int rc = vn_gemm(NULL, 0, x, x_stride, w, t, 0, &epi);
    free(blk);
    return rc;
}
