// Internal layout shared by the fast GEMM kernels (portable and AVX2).
//
// Weights are prepared as "pair slots": every row is a list of slots, each
// holding two kept weights (w1, w2) and which two input channels they meet
// (a "choice" among the few pairs the format allows in that slot):
//   dense 4:4  slot = 2 channels,  1 choice  (0,1)
//   2:4        slot = 4 channels,  6 choices (the two kept positions)
//   1:4        slot = 8 channels, 16 choices (one kept in each group of 4)
// Activations of a block of T rows are expanded once per call into a table
// A[slot][choice][t] of int16 pairs (x[t][k1], x[t][k2]). A weight pair then
// meets 8 rows of X in one vpmaddwd: 16 exact int16 products summed in pairs
// into int32, so sparsity skips work instead of multiplying zeros.
#ifndef SPARQ_GEMM_FAST_INTERNAL_H
#define SPARQ_GEMM_FAST_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "sparq_gemm.h"

#define FAST_TBLOCK 32 // rows of X per activation table (4 AVX2 vectors of 8)
#define NARROW_CHUNK 8 // slots per chunk of the narrow path

struct sparq_gemm_prepared {
    int out, in, in_pad;
    int slot_width;          // input channels per slot: 2, 4 or 8
    int slots;               // slots per row: in_pad / slot_width
    int choices;             // channel pairs a slot may use
    const uint8_t (*pairs)[2]; // (choices, 2) channel offsets within a slot
    uint8_t *choice;         // (out, slots) which pair each slot uses
    int32_t *wpair;          // (out, slots) w1 in the low 16 bits, w2 in the high 16
    // Narrow weights (int4, int2) also take a faster AVX2 path: activations
    // offset to u8 (x + 128) meet int8 weight pairs in vpmaddubsw, whose
    // int16 sums stay exact over a chunk of NARROW_CHUNK slots (|w| <= 8:
    // 255*8*2*8 < 2^15); the offset is removed with the row sums of the codes.
    // Chunks of slots keep the table slice in L1; the weights are stored
    // chunk-major so they stream sequentially.
    int narrow;              // 1 if the narrow path applies
    int chunks;              // ceil(slots / NARROW_CHUNK); missing slots hold weight 0
    uint8_t *nchoice;        // (chunks, out, NARROW_CHUNK)
    int16_t *nweights;       // (chunks, out, NARROW_CHUNK) w1 low byte, w2 high byte
    int32_t *rowsum;         // (out) sum of the row's codes
    // AVX-512 VNNI layout (gemm_fast_avx512.c), built when the CPU has it.
    // Per block of 16 outputs and 16-channel block: vn_steps zmm of weights,
    // each lane (output) holding 4 kept codes in storage order; for sparse
    // formats as many zmm of vpshufb indices (the channel, 0..15, in the
    // block that each code meets). Output blocks are padded with zeros.
    int vn_steps;            // 4 dense (no shuffle), 2 for 2:4, 1 for 1:4; 0 if not built
    int vn_oblocks;          // ceil(out / 16)
    int vn_kblocks;          // in_pad / 16
    int8_t *vn_w;            // (oblocks, kblocks, steps, 16, 4), 64-byte aligned
    uint8_t *vn_idx;         // same shape, NULL for dense; + 16 * (block % 4) (vpermb)
    int32_t *vn_corr;        // (oblocks * 16) 128 * rowsum: removes the u8 offset
    // 2:4 with frames as the vector dimension (gemm_fast24_avx512.c): per
    // group of F24_NO outputs and 8-channel slot, each output's 4 kept codes
    // (a dword, storage order) and the byte offset of its kept-position
    // pattern's line in the per-call table (pattern * 128). Output groups
    // cover a multiple of 16 outputs; the extra ones hold weight 0.
    int f24_slots;           // in_pad / 8; 0 if not built (not 2:4)
    int f24_ogroups;         // 2 * ceil(out / 16)
    int32_t *f24_w;          // (ogroups, slots, F24_NO)
    uint16_t *f24_off;       // (ogroups, slots, F24_NO)
};
#define F24_NO 8        // outputs per group in the 2:4 frame kernel
#define F24_PATTERNS 36 // kept-position patterns of 8 channels under 2:4


// Kernel paths, slowest first (gemm_fast.c chooses; sparq_gemm.h).
enum { FAST_PATH_SCALAR, FAST_PATH_AVX2, FAST_PATH_AVX512VNNI };
// The path a call runs now, -1 when SPARQ_GEMM_PATH names no usable path.
int fast_path_now(void);

// Fills table (slots, choices, FAST_TBLOCK, 2) int16 for rows [t0, t0+rows)
// of x; rows beyond `rows` are zero.
void fast_fill_table(int16_t *table, const struct sparq_gemm_prepared *w, const int8_t *x, int x_stride,
                     int t0, int rows);

// Kernel on one table: y rows [t0, t0 + rows).
void fast_block_portable(int32_t *y, int y_stride, const int16_t *table, const struct sparq_gemm_prepared *w,
                         int t0, int rows, int accumulate);
void fast_block_avx2(int32_t *y, int y_stride, const int16_t *table, const struct sparq_gemm_prepared *w, int t0,
                     int rows, int accumulate);

// The narrow path's table holds u8 pairs (x + 128) in the same
// (slots, choices, FAST_TBLOCK, 2) order.
// AVX2 versions of the two table fills; xt is scratch of in_pad * FAST_TBLOCK
// elements (u8 or int16). The u8 table has chunks * NARROW_CHUNK slots.
void fast_fill_table_u8_avx2(uint8_t *table, uint8_t *xt, const struct sparq_gemm_prepared *w, const int8_t *x,
                             int x_stride, int t0, int rows);
void fast_fill_table_avx2(int16_t *table, int16_t *xt, const struct sparq_gemm_prepared *w, const int8_t *x,
                          int x_stride, int t0, int rows);
// acc is scratch of out * FAST_TBLOCK int32.
void fast_block_avx2_narrow(int32_t *y, int y_stride, const uint8_t *table, int32_t *acc,
                            const struct sparq_gemm_prepared *w, int t0, int rows, int accumulate);

// Whole GEMM on the VNNI layout; 0 or -1 when out of memory.
// The 2:4 frame kernel; needs AVX-512 VBMI besides VNNI, and f24_slots > 0.
int fast_gemm_f24_avx512(int32_t *y, int y_stride, const int8_t *x, int x_stride, const struct sparq_gemm_prepared *w,
                         int t, int accumulate);
// 1 if the VNNI path's sparse tiles select with vpermb (the CPU has VBMI and
// sparq_gemm_disable_vbmi is off).
int fast_vbmi_wanted(void);
// 1 if fast_gemm_avx512vnni hands 2:4 GEMMs of t frames to the frame kernel.
int fast_f24_wanted(const struct sparq_gemm_prepared *w, int t);
int fast_gemm_avx512vnni(int32_t *y, int y_stride, const int8_t *x, int x_stride,
                         const struct sparq_gemm_prepared *w, int t, int accumulate);
// The fused read-out on that path (sparq_gemm_fast_requant); lut_fn applies
// lut to a row segment when lut is not NULL.
int fast_gemm_requant_avx512vnni(int8_t *y8, int ldy8, const int8_t *x, int x_stride,
                                 const struct sparq_gemm_prepared *w, int t, const struct sparq_requant_params *rq,
                                 const int8_t *lut, void (*lut_fn)(int8_t *, size_t, const int8_t *));

#endif
