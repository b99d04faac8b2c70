// The packed N:M weight format (docs/format.md): type table, pack, unpack,
// validate.
#include "sparq_format.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sparq_error.h"

// One struct per (width, N:M) block; their sizes are the type table's
// block_bytes, so the table cannot drift from the layout.
struct block_int8_dense { uint8_t values[16]; };
struct block_int8_2of4  { uint8_t values[8]; uint8_t positions[2]; };
struct block_int8_1of4  { uint8_t values[4]; uint8_t positions[1]; };
struct block_int4_dense { uint8_t values[8]; };
struct block_int4_2of4  { uint8_t values[4]; uint8_t positions[2]; };
struct block_int4_1of4  { uint8_t values[2]; uint8_t positions[1]; };
struct block_int2_dense { uint8_t values[4]; };
struct block_int2_2of4  { uint8_t values[2]; uint8_t positions[2]; };
struct block_int2_1of4  { uint8_t values[1]; uint8_t positions[1]; };
_Static_assert(sizeof(struct block_int8_dense) == 16, "int8 4:4 block is 16 bytes");
_Static_assert(sizeof(struct block_int8_2of4) == 10, "int8 2:4 block is 10 bytes");
_Static_assert(sizeof(struct block_int8_1of4) == 5, "int8 1:4 block is 5 bytes");
_Static_assert(sizeof(struct block_int4_dense) == 8, "int4 4:4 block is 8 bytes");
_Static_assert(sizeof(struct block_int4_2of4) == 6, "int4 2:4 block is 6 bytes (3 bits/weight)");
_Static_assert(sizeof(struct block_int4_1of4) == 3, "int4 1:4 block is 3 bytes");
_Static_assert(sizeof(struct block_int2_dense) == 4, "int2 4:4 block is 4 bytes");
_Static_assert(sizeof(struct block_int2_2of4) == 4, "int2 2:4 block is 4 bytes");
_Static_assert(sizeof(struct block_int2_1of4) == 2, "int2 1:4 block is 2 bytes");

#define TYPE(w, n, nm, blk, posb) \
    { w, n, nm, (int)sizeof(struct blk) - (posb), (posb), (int)sizeof(struct blk) }

static const struct sparq_format_type format_table[] = {
    TYPE(8, 4, "int8-4:4", block_int8_dense, 0),
    TYPE(8, 2, "int8-2:4", block_int8_2of4, 2),
    TYPE(8, 1, "int8-1:4", block_int8_1of4, 1),
    TYPE(4, 4, "int4-4:4", block_int4_dense, 0),
    TYPE(4, 2, "int4-2:4", block_int4_2of4, 2),
    TYPE(4, 1, "int4-1:4", block_int4_1of4, 1),
    TYPE(2, 4, "int2-4:4", block_int2_dense, 0),
    TYPE(2, 2, "int2-2:4", block_int2_2of4, 2),
    TYPE(2, 1, "int2-1:4", block_int2_1of4, 1),
};
#define FORMAT_COUNT ((int)(sizeof format_table / sizeof format_table[0]))

const struct sparq_format_type *sparq_format_lookup(int width, int kept)
{
    for (int i = 0; i < FORMAT_COUNT; i++)
        if (format_table[i].width == width && format_table[i].kept == kept)
            return &format_table[i];
    return NULL;
}

const struct sparq_format_type *sparq_format_all(int *count)
{
    *count = FORMAT_COUNT;
    return format_table;
}

double sparq_format_bits_per_weight(const struct sparq_format_type *t)
{
    return t->block_bytes * 8.0 / SPARQ_BLOCK;
}

static int qmax_of(int width) { return (1 << (width - 1)) - 1; }
static int qmin_of(int width, enum sparq_grid grid)
{
    return grid == SPARQ_GRID_FULL ? -(1 << (width - 1)) : -qmax_of(width);
}

int sparq_quantize_value(float w, float scale, int width, enum sparq_grid grid)
{
    float q = rintf(w / scale); // round half to even (default FP environment)
    float lo = (float)qmin_of(width, grid), hi = (float)qmax_of(width);
    if (!(q >= lo)) // also maps NaN to the low end deterministically
        q = lo;
    if (q > hi)
        q = hi;
    return (int)q;
}

float sparq_maxabs_scale(const float *row, const uint8_t *keep, int n, int width, enum sparq_grid grid)
{
    float maxabs = 0.0f;
    for (int k = 0; k < n; k++)
        if (!keep || keep[k])
            maxabs = fmaxf(maxabs, fabsf(row[k]));
    if (maxabs == 0.0f)
        return 1.0f;
    float levels = grid == SPARQ_GRID_FULL ? (float)(1 << (width - 1)) : (float)qmax_of(width);
    return maxabs / levels;
}

// --- bit-level access ------------------------------------------------------

static int get_bits(const uint8_t *bytes, int index, int width)
{
    int bit = index * width;
    unsigned v = (bytes[bit >> 3] >> (bit & 7)) & ((1u << width) - 1u);
    return (int)v;
}

static void put_bits(uint8_t *bytes, int index, int width, unsigned v)
{
    int bit = index * width;
    unsigned mask = (1u << width) - 1u;
    bytes[bit >> 3] = (uint8_t)((bytes[bit >> 3] & ~(mask << (bit & 7))) | ((v & mask) << (bit & 7)));
}

static int sign_extend(int v, int width)
{
    return (v ^ (1 << (width - 1))) - (1 << (width - 1));
}

int sparq_block_decode(const struct sparq_format_type *t, const uint8_t *block,
                       uint8_t *positions, int8_t *codes)
{
    const int n = 4 * t->kept;
    const uint8_t *pos_bytes = block + t->value_bytes;
    for (int i = 0; i < n; i++) {
        int group = i / t->kept;
        int pos = t->kept == 4 ? i % 4 : get_bits(pos_bytes, i, 2);
        positions[i] = (uint8_t)(group * 4 + pos);
        codes[i] = (int8_t)sign_extend(get_bits(block, i, t->width), t->width);
    }
    return n;
}

// --- packed matrices -------------------------------------------------------

int sparq_packed_init(struct sparq_packed *p, int width, int kept, int out, int in)
{
    memset(p, 0, sizeof *p);
    p->type = sparq_format_lookup(width, kept);
    if (!p->type)
        return sparq_fail(SPARQ_EINVAL, "format: no such format int%d %d:4", width, kept);
    if (out <= 0 || in <= 0 || out > (1 << 24) || in > (1 << 24))
        return sparq_fail(SPARQ_EINVAL, "format: shape %d x %d out of range", out, in);
    p->out = out;
    p->in = in;
    p->in_pad = (in + SPARQ_BLOCK - 1) / SPARQ_BLOCK * SPARQ_BLOCK;
    p->blocks_per_row = p->in_pad / SPARQ_BLOCK;
    p->row_bytes = (size_t)p->blocks_per_row * (size_t)p->type->block_bytes;
    p->size = (size_t)out * p->row_bytes;
    p->bytes = sparq_calloc(p->size, 1, "packed weights");
    p->scales = sparq_calloc((size_t)out, sizeof(float), "weight scales");
    if (!p->bytes || !p->scales) {
        sparq_packed_free(p);
        return SPARQ_ENOMEM;
    }
    return SPARQ_OK;
}

void sparq_packed_free(struct sparq_packed *p)
{
    free(p->bytes);
    free(p->scales);
    p->bytes = NULL;
    p->scales = NULL;
}

// Chooses which positions of one group are kept. `w` and `m` hold the 4
// values/mask bytes of the group (zeros in the padding). Returns the kept
// positions in bits 0..3 and the filler positions (stored with code 0 so
// every group has exactly N entries) in bits 4..7, or -1 if the mask keeps
// too many.
static int choose_group(const float *w, const uint8_t *m, int valid, int kept)
{
    if (kept == 4)
        return 0xF;
    int set = 0, count = 0;
    if (m) {
        for (int j = 0; j < valid; j++)
            if (m[j]) {
                set |= 1 << j;
                count++;
            }
        if (count > kept)
            return -1;
    } else {
        // Magnitude pruning: repeatedly take the largest |w| not yet taken;
        // strict '>' keeps the lower index on ties.
        for (; count < kept; count++) {
            int best = -1;
            for (int j = 0; j < valid; j++)
                if (!(set & (1 << j)) && (best < 0 || fabsf(w[j]) > fabsf(w[best])))
                    best = j;
            if (best < 0)
                break;
            set |= 1 << best;
        }
    }
    // Fill free slots with the lowest unused positions (their code is 0).
    int filler = 0;
    for (int j = 0; j < 4 && count < kept; j++)
        if (!(set & (1 << j))) {
            filler |= 1 << j;
            count++;
        }
    return set | filler << 4;
}

int sparq_nm_mask(uint8_t *mask, const float *w, int out, int in, int kept)
{
    if (kept != 1 && kept != 2 && kept != 4)
        return sparq_fail(SPARQ_EINVAL, "mask: N must be 1, 2 or 4 (got %d)", kept);
    for (int o = 0; o < out; o++)
        for (int k0 = 0; k0 < in; k0 += 4) {
            int valid = in - k0 > 4 ? 4 : in - k0;
            float gw[4] = { 0, 0, 0, 0 };
            for (int j = 0; j < valid; j++)
                gw[j] = w[(size_t)o * in + k0 + j];
            int set = choose_group(gw, NULL, valid, kept) & 0xF; // fillers are not kept weights
            for (int j = 0; j < valid; j++)
                mask[(size_t)o * in + k0 + j] = (uint8_t)((set >> j) & 1);
        }
    return SPARQ_OK;
}

int sparq_pack(struct sparq_packed *dst, const float *w, const uint8_t *mask,
               int width, int kept, int out, int in, const struct sparq_pack_options *opt)
{
    int rc = sparq_packed_init(dst, width, kept, out, in);
    if (rc)
        return rc;
    const struct sparq_format_type *t = dst->type;
    enum sparq_grid grid = opt ? opt->grid : SPARQ_GRID_SYMMETRIC;
    uint8_t *keep = sparq_malloc(2 * (size_t)dst->in_pad, "keep mask row");
    uint8_t *keep_real = keep + dst->in_pad;
    if (!keep) {
        sparq_packed_free(dst);
        return SPARQ_ENOMEM;
    }
    for (int o = 0; o < out; o++) {
        const float *row = w + (size_t)o * in;
        const uint8_t *mrow = mask ? mask + (size_t)o * in : NULL;
        memset(keep, 0, (size_t)dst->in_pad);
        for (int k = 0; k < in; k++)
            if (!isfinite(row[k])) {
                free(keep);
                sparq_packed_free(dst);
                return sparq_fail(SPARQ_EINVAL, "pack: weight [%d][%d] is not finite", o, k);
            }
        for (int g = 0; g < dst->in_pad / 4; g++) {
            int k0 = g * 4, valid = in - k0 < 0 ? 0 : in - k0 > 4 ? 4 : in - k0;
            float gw[4] = { 0, 0, 0, 0 };
            uint8_t gm[4] = { 0, 0, 0, 0 };
            for (int j = 0; j < valid; j++) {
                gw[j] = row[k0 + j];
                gm[j] = mrow ? (mrow[k0 + j] != 0) : 0;
            }
            int set = choose_group(gw, mrow ? gm : NULL, valid, kept);
            if (set < 0) {
                free(keep);
                sparq_packed_free(dst);
                return sparq_fail(SPARQ_EINVAL, "pack: mask row %d group %d keeps more than %d of 4", o, g, kept);
            }
            // keep: 1 = kept weight, 2 = filler (stored, code 0), 0 = pruned.
            for (int j = 0; j < 4; j++)
                keep[k0 + j] = (uint8_t)(((set >> j) & 1) | ((set >> (j + 4)) & 1) << 1);
        }
        for (int k = 0; k < in; k++) // the scale sees only really kept weights
            keep_real[k] = keep[k] == 1;
        float scale = opt && opt->scales ? opt->scales[o] : sparq_maxabs_scale(row, keep_real, in, width, grid);
        if (!(scale > 0.0f) || !isfinite(scale)) {
            free(keep);
            sparq_packed_free(dst);
            return sparq_fail(SPARQ_EINVAL, "pack: scale of row %d is not finite and positive", o);
        }
        dst->scales[o] = scale;
        uint8_t *rowbytes = dst->bytes + (size_t)o * dst->row_bytes;
        for (int b = 0; b < dst->blocks_per_row; b++) {
            uint8_t *block = rowbytes + (size_t)b * t->block_bytes;
            int i = 0;
            for (int g = 0; g < 4; g++)
                for (int j = 0; j < 4; j++) {
                    int k = b * SPARQ_BLOCK + g * 4 + j;
                    if (!keep[k])
                        continue;
                    int code = k < in && keep[k] == 1 ? sparq_quantize_value(row[k], scale, width, grid) : 0;
                    put_bits(block, i, width, (unsigned)code);
                    if (kept != 4)
                        put_bits(block + t->value_bytes, i, 2, (unsigned)j);
                    i++;
                }
        }
    }
    free(keep);
    return SPARQ_OK;
}

void sparq_unpack_codes(const struct sparq_packed *p, int8_t *codes)
{
    uint8_t pos[SPARQ_BLOCK];
    int8_t val[SPARQ_BLOCK];
    memset(codes, 0, (size_t)p->out * (size_t)p->in);
    for (int o = 0; o < p->out; o++)
        for (int b = 0; b < p->blocks_per_row; b++) {
            const uint8_t *block = p->bytes + (size_t)o * p->row_bytes + (size_t)b * p->type->block_bytes;
            int n = sparq_block_decode(p->type, block, pos, val);
            for (int i = 0; i < n; i++) {
                int k = b * SPARQ_BLOCK + pos[i];
                if (k < p->in)
                    codes[(size_t)o * p->in + k] = val[i];
            }
        }
}

int sparq_unpack(const struct sparq_packed *p, float *w)
{
    int8_t *codes = malloc((size_t)p->out * (size_t)p->in);
    if (!codes)
        return sparq_fail(SPARQ_ENOMEM, "unpack: out of memory for %d x %d %s codes", p->out, p->in,
                          p->type->name);
    sparq_unpack_codes(p, codes);
    for (int o = 0; o < p->out; o++)
        for (int k = 0; k < p->in; k++)
            w[(size_t)o * p->in + k] = (float)codes[(size_t)o * p->in + k] * p->scales[o];
    free(codes);
    return SPARQ_OK;
}

void sparq_unpack_mask(const struct sparq_packed *p, uint8_t *mask)
{
    uint8_t pos[SPARQ_BLOCK];
    int8_t val[SPARQ_BLOCK];
    memset(mask, 0, (size_t)p->out * (size_t)p->in);
    for (int o = 0; o < p->out; o++)
        for (int b = 0; b < p->blocks_per_row; b++) {
            const uint8_t *block = p->bytes + (size_t)o * p->row_bytes + (size_t)b * p->type->block_bytes;
            int n = sparq_block_decode(p->type, block, pos, val);
            for (int i = 0; i < n; i++) {
                int k = b * SPARQ_BLOCK + pos[i];
                if (k < p->in)
                    mask[(size_t)o * p->in + k] = 1;
            }
        }
}

int sparq_validate(const struct sparq_format_type *t, int out, int in,
                   const uint8_t *bytes, size_t size, const float *scales)
{
    if (!t)
        return sparq_fail(SPARQ_EFORMAT, "validate: unknown format");
    if (out <= 0 || in <= 0 || out > (1 << 24) || in > (1 << 24))
        return sparq_fail(SPARQ_EFORMAT, "validate: shape %d x %d out of range", out, in);
    int blocks = (in + SPARQ_BLOCK - 1) / SPARQ_BLOCK;
    size_t row_bytes = (size_t)blocks * (size_t)t->block_bytes;
    if (size != (size_t)out * row_bytes)
        return sparq_fail(SPARQ_EFORMAT, "validate: %zu bytes, %s %d x %d needs %zu", size, t->name, out, in,
                          (size_t)out * row_bytes);
    uint8_t pos[SPARQ_BLOCK];
    int8_t val[SPARQ_BLOCK];
    for (int o = 0; o < out; o++) {
        if (scales && !(isfinite(scales[o]) && scales[o] > 0.0f))
            return sparq_fail(SPARQ_EFORMAT, "validate: scale of row %d is not finite and positive", o);
        for (int b = 0; b < blocks; b++) {
            const uint8_t *block = bytes + (size_t)o * row_bytes + (size_t)b * t->block_bytes;
            int n = sparq_block_decode(t, block, pos, val);
            for (int i = 0; i < n; i++) {
                if (i % t->kept != 0 && pos[i] <= pos[i - 1])
                    return sparq_fail(SPARQ_EFORMAT,
                                      "validate: row %d block %d group %d: positions not strictly increasing", o,
                                      b, i / t->kept);
                if (b * SPARQ_BLOCK + pos[i] >= in && val[i] != 0)
                    return sparq_fail(SPARQ_EFORMAT, "validate: row %d: nonzero value in padding channel %d", o,
                                      b * SPARQ_BLOCK + pos[i]);
            }
            // Canonical padding (docs/format.md section 2): a group that uses a
            // padding channel keeps its lowest `kept` positions, as the packer
            // writes it, so every accepted matrix has one meaning.
            for (int i = 0; i < n; i++) {
                int g0 = i - i % t->kept, base = (i / t->kept) * 4, lowest = 1;
                for (int j = 0; j < t->kept; j++)
                    lowest &= pos[g0 + j] == base + j;
                if (b * SPARQ_BLOCK + pos[i] >= in && !lowest)
                    return sparq_fail(SPARQ_EFORMAT,
                                      "validate: row %d block %d group %d: uses padding channel %d but does not keep "
                                      "its lowest %d positions",
                                      o, b, i / t->kept, b * SPARQ_BLOCK + pos[i], t->kept);
            }
        }
    }
    return SPARQ_OK;
}
