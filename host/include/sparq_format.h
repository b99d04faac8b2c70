// sparq-layer: pack
// The packed N:M sparse low-bit weight format. docs/format.md is the
// normative description; this header is its C API.
//
// A weight matrix W[OUT][IN] is stored row by row (one row per output
// channel). Each row is padded to IN_PAD = round_up(IN, 16) input channels
// and cut into blocks of 16 input channels = 4 groups of M = 4. A block holds
// the N kept values of each of its 4 groups (value bytes), then their 2-bit
// positions (position bytes; absent for dense 4:4, where positions are
// implicitly 0,1,2,3). Values and positions are packed LSB-first.
#ifndef SPARQ_FORMAT_H
#define SPARQ_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#define SPARQ_GROUP 4          // M: input channels per sparsity group
#define SPARQ_BLOCK 16         // input channels per packed block (4 groups)
#define SPARQ_MAX_BLOCK_BYTES 32

// Value width in bits (two's complement).
enum sparq_width { SPARQ_INT8 = 8, SPARQ_INT4 = 4, SPARQ_INT2 = 2 };
// Kept values per group of 4: 4:4 dense, 2:4, 1:4.
enum sparq_sparsity { SPARQ_DENSE = 4, SPARQ_2OF4 = 2, SPARQ_1OF4 = 1 };

// How float weights map onto integer codes (used by the packer/quantizer;
// the stored bytes are plain two's complement either way).
enum sparq_grid {
    SPARQ_GRID_SYMMETRIC = 0, // codes -qmax..qmax, qmax = 2^(w-1)-1 (int2: {-1,0,1})
    SPARQ_GRID_FULL = 1,      // codes -2^(w-1)..qmax (int2: {-2,-1,0,1}); scale = maxabs/2^(w-1)
};

// One entry of the type table: everything generic code needs about a
// (width, N:M) combination, so nothing else switches on the format.
struct sparq_format_type {
    int width;             // bits per value: 8, 4, 2
    int kept;              // N of N:M (M = 4)
    const char *name;      // "int4-2:4"
    int value_bytes;       // bytes of values per 16-channel block
    int position_bytes;    // bytes of 2-bit positions per block (0 if dense)
    int block_bytes;       // value_bytes + position_bytes
};

// Looks up the table; NULL if the combination does not exist.
const struct sparq_format_type *sparq_format_lookup(int width, int kept);
// All 9 combinations, for iteration (count returned through *count).
const struct sparq_format_type *sparq_format_all(int *count);

// Bits of storage per logical weight (values + positions; scales excluded).
double sparq_format_bits_per_weight(const struct sparq_format_type *t);

// Packed matrix descriptor. Owns `bytes` and `scales` when allocated by
// sparq_pack(); free with sparq_packed_free().
struct sparq_packed {
    const struct sparq_format_type *type;
    int out;            // output channels (rows)
    int in;             // logical input channels
    int in_pad;         // in rounded up to a multiple of SPARQ_BLOCK
    int blocks_per_row; // in_pad / SPARQ_BLOCK
    size_t row_bytes;   // blocks_per_row * block_bytes
    size_t size;        // out * row_bytes
    uint8_t *bytes;     // (out, row_bytes)
    float *scales;      // (out) dequantized weight = code * scales[o]
};

int sparq_packed_init(struct sparq_packed *p, int width, int kept, int out, int in);
void sparq_packed_free(struct sparq_packed *p);

// Quantizer parameters of the packer.
struct sparq_pack_options {
    enum sparq_grid grid;   // symmetric (default) or full two's-complement grid
    const float *scales;    // (out) scales to use, or NULL: max-abs of the kept weights
};

// Per-channel scale chosen by max-abs: maxabs / qmax (symmetric) or
// maxabs / 2^(w-1) (full). A zero row gets scale 1 (all codes 0).
float sparq_maxabs_scale(const float *row, const uint8_t *keep, int n, int width, enum sparq_grid grid);

// Quantizes one float to a code: round half to even of w/scale, clamped to
// the grid. This is the one rounding rule of sparq (fake-quant uses it too).
int sparq_quantize_value(float w, float scale, int width, enum sparq_grid grid);

// N:M magnitude mask (out, in) of 0/1 bytes: the N largest |w| of each
// group of 4 (ties: lower index); exactly the choice sparq_pack makes when it
// is given no mask.
int sparq_nm_mask(uint8_t *mask, const float *w, int out, int in, int kept);

// Packs W (out, in) with an optional keep-mask (out, in) of 0/1 bytes.
// mask == NULL for sparse formats: magnitude pruning keeps the N largest
// |w| of each group (ties: lower index). A mask with more than N ones in a
// group is an error; with fewer, the free slots are filled with the lowest
// unused positions holding code 0. Returns SPARQ_OK or an error code.
int sparq_pack(struct sparq_packed *dst, const float *w, const uint8_t *mask,
               int width, int kept, int out, int in, const struct sparq_pack_options *opt);

// Unpacks to dense integer codes (out, in), zeros where nothing is kept.
void sparq_unpack_codes(const struct sparq_packed *p, int8_t *codes);
// Unpacks to dense float weights (out, in): code * scale (exact product).
// SPARQ_ENOMEM (w untouched, message recorded) if its scratch cannot be had.
int sparq_unpack(const struct sparq_packed *p, float *w);
// Unpacks the keep-mask (out, in) as 0/1 bytes.
void sparq_unpack_mask(const struct sparq_packed *p, uint8_t *mask);

// Validates untrusted bytes (size, position order, zero padding, finite
// positive scales). Never reads outside `size` bytes.
// scales may be NULL to skip the scale check.
int sparq_validate(const struct sparq_format_type *t, int out, int in,
                   const uint8_t *bytes, size_t size, const float *scales);

// Block-level accessors shared by the packer, the GEMMs and the device model.
// Decodes one block into (position, code) pairs in storage order; returns the
// number of kept values (4 * kept). Positions are absolute within the block
// (0..15).
int sparq_block_decode(const struct sparq_format_type *t, const uint8_t *block,
                       uint8_t *positions, int8_t *codes);

#endif
