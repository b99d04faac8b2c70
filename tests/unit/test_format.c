// Packed N:M format: type table, hand-worked bytes, pack/unpack round trip,
// magnitude pruning, quantizer rounding and validation of corrupt bytes.
#include <math.h>
#include <string.h>
#include <sys/resource.h>

#include <stdlib.h>

#include "check.h"
#include "sparq_error.h"
#include "sparq_format.h"
#include "sparq_rng.h"

static uint64_t rng_state;
static uint32_t rnd(void)
{
    return (uint32_t)(sparq_rng_next(&rng_state) >> 32);
}
static float rndf(void) { return (float)rnd() / 2147483648.0f * 2.0f - 1.0f; }

static void test_type_table(void)
{
    int count;
    const struct sparq_format_type *all = sparq_format_all(&count);
    CHECK(count == 9, "type table has 9 (width, N:M) combinations");
    int ok = 1;
    for (int i = 0; i < count; i++) {
        // Independent count: N*width value bits + N*2 position bits (sparse) per 4 weights.
        double expect = (all[i].kept * all[i].width + (all[i].kept < 4 ? all[i].kept * 2 : 0)) / 4.0;
        ok &= fabs(sparq_format_bits_per_weight(&all[i]) - expect) < 1e-12;
        ok &= all[i].block_bytes == all[i].value_bytes + all[i].position_bytes;
    }
    CHECK(ok, "bits per weight of every format = (N*w + N*2[sparse]) / 4");
    const struct sparq_format_type *t = sparq_format_lookup(4, 2);
    CHECK(t && sparq_format_bits_per_weight(t) == 3.0 && fabs(3.0 / 32 - 0.09375) < 1e-12,
          "int4 2:4 is 3 bits per weight (9.375%% of fp32)");
    CHECK(sparq_format_lookup(3, 2) == NULL && sparq_format_lookup(4, 3) == NULL, "unknown formats are rejected");
}

static void test_hand_worked_block(void)
{
    // docs/format.md worked example: int4 2:4, one row of 16, scale 1.
    float w[16] = { 0, 3, 0, -2, 1, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0 };
    float scale = 1.0f;
    struct sparq_pack_options opt = { SPARQ_GRID_SYMMETRIC, &scale };
    struct sparq_packed p;
    int rc = sparq_pack(&p, w, NULL, 4, 2, 1, 16, &opt);
    const uint8_t expect[6] = { 0xE3, 0x71, 0x00, 0x00, 0xCD, 0x44 };
    CHECK(rc == 0 && p.size == 6 && memcmp(p.bytes, expect, 6) == 0,
          "int4 2:4 worked example packs to E3 71 00 00 CD 44 (got %02X %02X %02X %02X %02X %02X)", p.bytes[0],
          p.bytes[1], p.bytes[2], p.bytes[3], p.bytes[4], p.bytes[5]);
    sparq_packed_free(&p);

    // int2 1:4, ragged IN = 6 (padded to 16): keeps 1 of each group.
    float w2[6] = { 0.1f, -0.9f, 0.2f, 0.0f, 0.0f, 0.5f };
    scale = 0.5f;
    rc = sparq_pack(&p, w2, NULL, 2, 1, 1, 6, &opt);
    // codes: group0 pos1: -0.9/0.5=-1.8 -> clamp -1 (symmetric); group1 pos1: 1.
    // groups 2,3 padding: pos 0, code 0. values -1,1,0,0 -> 11 01 00 00 = 0x07
    // positions 1,1,0,0 -> 01 01 00 00 = 0x05
    CHECK(rc == 0 && p.size == 2 && p.bytes[0] == 0x07 && p.bytes[1] == 0x05,
          "int2 1:4 ragged example packs to 07 05 (got %02X %02X)", p.bytes[0], p.bytes[1]);
    sparq_packed_free(&p);

    // int8 dense: plain two's complement bytes, no positions.
    float w3[3] = { -128.0f, 127.0f, -5.0f };
    scale = 1.0f;
    struct sparq_pack_options full = { SPARQ_GRID_FULL, &scale };
    rc = sparq_pack(&p, w3, NULL, 8, 4, 1, 3, &full);
    CHECK(rc == 0 && p.size == 16 && p.bytes[0] == 0x80 && p.bytes[1] == 0x7F && p.bytes[2] == 0xFB && p.bytes[3] == 0,
          "int8 4:4 full grid stores -128 127 -5 0 ...");
    sparq_packed_free(&p);
}

static void test_quantizer(void)
{
    CHECK(sparq_quantize_value(2.5f, 1.0f, 8, SPARQ_GRID_SYMMETRIC) == 2 &&
              sparq_quantize_value(3.5f, 1.0f, 8, SPARQ_GRID_SYMMETRIC) == 4 &&
              sparq_quantize_value(-2.5f, 1.0f, 8, SPARQ_GRID_SYMMETRIC) == -2,
          "rounding is half to even");
    CHECK(sparq_quantize_value(-9.0f, 1.0f, 4, SPARQ_GRID_SYMMETRIC) == -7 &&
              sparq_quantize_value(-9.0f, 1.0f, 4, SPARQ_GRID_FULL) == -8 &&
              sparq_quantize_value(9.0f, 1.0f, 4, SPARQ_GRID_FULL) == 7,
          "int4 clamps to [-7,7] symmetric and [-8,7] full");
    CHECK(sparq_quantize_value(-3.0f, 1.0f, 2, SPARQ_GRID_SYMMETRIC) == -1 &&
              sparq_quantize_value(-3.0f, 1.0f, 2, SPARQ_GRID_FULL) == -2,
          "int2 grids: ternary {-1,0,1} and full {-2,-1,0,1}");
    float row[4] = { 0.5f, -2.0f, 1.0f, 0.0f };
    CHECK(sparq_maxabs_scale(row, NULL, 4, 4, SPARQ_GRID_SYMMETRIC) == 2.0f / 7.0f &&
              sparq_maxabs_scale(row, NULL, 4, 2, SPARQ_GRID_FULL) == 1.0f,
          "max-abs scale is maxabs/qmax (symmetric) and maxabs/2^(w-1) (full)");
}

// Round trip on random matrices of every format and ragged shapes.
static void test_round_trip(void)
{
    int count;
    const struct sparq_format_type *all = sparq_format_all(&count);
    int exact = 1, pruned_ok = 1, repack_ok = 1, valid_ok = 1, codes_ok = 1;
    for (int iter = 0; iter < 200; iter++) {
        const struct sparq_format_type *t = &all[iter % count];
        int out = 1 + (int)(rnd() % 9), in = 1 + (int)(rnd() % 70);
        enum sparq_grid grid = (rnd() & 1) ? SPARQ_GRID_FULL : SPARQ_GRID_SYMMETRIC;
        float *w = malloc(sizeof(float) * out * in), *back = malloc(sizeof(float) * out * in);
        uint8_t *mask = malloc((size_t)out * in);
        int8_t *codes = malloc((size_t)out * in);
        for (int i = 0; i < out * in; i++)
            w[i] = rndf() * 3.0f;
        struct sparq_packed p, q;
        struct sparq_pack_options opt = { grid, NULL };
        if (sparq_pack(&p, w, NULL, t->width, t->kept, out, in, &opt)) {
            exact = 0;
            break;
        }
        valid_ok &= sparq_validate(t, out, in, p.bytes, p.size, p.scales) == 0;
        sparq_unpack(&p, back);
        sparq_unpack_mask(&p, mask);
        sparq_unpack_codes(&p, codes);
        // Independent check of pruning and quantization for every row/group.
        for (int o = 0; o < out; o++) {
            for (int g = 0; g * 4 < in; g++) {
                int valid = in - g * 4 < 4 ? in - g * 4 : 4, kept = 0;
                for (int j = 0; j < valid; j++)
                    kept += mask[o * in + g * 4 + j];
                int expect_kept = t->kept < valid ? t->kept : valid;
                if (kept != expect_kept)
                    pruned_ok = 0;
                // Every kept |w| >= every dropped |w| in the group.
                for (int a = 0; a < valid; a++)
                    for (int b = 0; b < valid; b++)
                        if (mask[o * in + g * 4 + a] && !mask[o * in + g * 4 + b] &&
                            fabsf(w[o * in + g * 4 + a]) < fabsf(w[o * in + g * 4 + b]))
                            pruned_ok = 0;
            }
            for (int k = 0; k < in; k++) {
                int i = o * in + k;
                int expect = mask[i] ? sparq_quantize_value(w[i], p.scales[o], t->width, grid) : 0;
                codes_ok &= codes[i] == expect;
                exact &= back[i] == (float)codes[i] * p.scales[o];
            }
        }
        // Repacking the unpacked weights with the same mask and scales gives the same bytes.
        struct sparq_pack_options same = { grid, p.scales };
        if (sparq_pack(&q, back, mask, t->width, t->kept, out, in, &same) == 0) {
            repack_ok &= q.size == p.size && memcmp(q.bytes, p.bytes, p.size) == 0;
            sparq_packed_free(&q);
        } else
            repack_ok = 0;
        sparq_packed_free(&p);
        free(w);
        free(back);
        free(mask);
        free(codes);
    }
    CHECK(valid_ok, "packer output validates");
    CHECK(pruned_ok, "magnitude pruning keeps exactly N of 4 (fewer only in ragged groups) and the largest");
    CHECK(codes_ok, "unpacked codes equal round-half-even(w/scale) clamped, zero where pruned");
    CHECK(exact, "unpack gives code * scale exactly");
    CHECK(repack_ok, "pack(unpack(pack(W))) == pack(W) byte for byte");
}

static void test_masks(void)
{
    float w[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    uint8_t too_many[8] = { 1, 1, 1, 0, 1, 0, 0, 0 };
    struct sparq_packed p;
    CHECK(sparq_pack(&p, w, too_many, 4, 2, 1, 8, NULL) != 0, "mask keeping 3 of 4 is rejected for 2:4");
    uint8_t few[8] = { 0, 0, 1, 0, 0, 0, 0, 0 };
    int rc = sparq_pack(&p, w, few, 4, 2, 1, 8, NULL);
    uint8_t back[8];
    if (rc == 0)
        sparq_unpack_mask(&p, back);
    // Group 0: kept 2 plus filler 0 (code 0); group 1 nothing kept: fillers 4, 5 with code 0.
    int8_t codes[8];
    if (rc == 0)
        sparq_unpack_codes(&p, codes);
    CHECK(rc == 0 && back[0] && back[2] && back[4] && back[5] && codes[0] == 0 && codes[2] == 7 && codes[4] == 0 && codes[5] == 0,
          "free slots are filled with the lowest unused positions holding code 0");
    if (rc == 0)
        sparq_packed_free(&p);
    float bad[2] = { 1.0f, NAN };
    CHECK(sparq_pack(&p, bad, NULL, 8, 4, 1, 2, NULL) != 0, "non-finite weights are rejected");
}

static void test_validate(void)
{
    float w[32];
    for (int i = 0; i < 32; i++)
        w[i] = (float)(i % 7) - 3.0f;
    struct sparq_packed p;
    int rc = sparq_pack(&p, w, NULL, 4, 2, 2, 16, NULL);
    const struct sparq_format_type *t = p.type;
    CHECK(rc == 0 && sparq_validate(t, 2, 16, p.bytes, p.size, p.scales) == 0, "valid int4 2:4 matrix validates");
    uint8_t save = p.bytes[4];
    p.bytes[4] = (uint8_t)((p.bytes[4] & ~0x0F) | 0x05); // group 0 positions 1,1: repeated
    CHECK(sparq_validate(t, 2, 16, p.bytes, p.size, NULL) != 0, "repeated position is rejected");
    p.bytes[4] = (uint8_t)((p.bytes[4] & ~0x0F) | 0x01); // positions 1,0: unsorted
    CHECK(sparq_validate(t, 2, 16, p.bytes, p.size, NULL) != 0, "unsorted positions are rejected");
    p.bytes[4] = save;
    CHECK(sparq_validate(t, 2, 16, p.bytes, p.size - 1, NULL) != 0, "wrong size is rejected");
    float nan_scales[2] = { 1.0f, NAN };
    CHECK(sparq_validate(t, 2, 16, p.bytes, p.size, nan_scales) != 0, "non-finite scale is rejected");
    sparq_packed_free(&p);

    // Nonzero code in a padding channel (IN = 13: channels 13..15 are padding).
    float w13[13] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
    rc = sparq_pack(&p, w13, NULL, 8, 4, 1, 13, NULL);
    CHECK(rc == 0 && sparq_validate(p.type, 1, 13, p.bytes, p.size, NULL) == 0, "ragged dense matrix validates");
    p.bytes[15] = 1;
    CHECK(sparq_validate(p.type, 1, 13, p.bytes, p.size, NULL) != 0, "nonzero padding value is rejected");
    sparq_packed_free(&p);

    // Random bytes never crash the validator (ASan build checks the reads).
    uint8_t junk[600];
    int accepted = 0, roundtrip = 0, same_bytes = 0;
    for (int iter = 0; iter < 2000; iter++) {
        int count;
        const struct sparq_format_type *all = sparq_format_all(&count);
        const struct sparq_format_type *ft = &all[rnd() % count];
        int out = 1 + (int)(rnd() % 4), in = 1 + (int)(rnd() % 40);
        // Half the strings have the exact size, so the position checks run.
        size_t exact = (size_t)out * ((in + 15) / 16) * ft->block_bytes;
        size_t size = (rnd() & 1) ? exact : rnd() % sizeof junk;
        for (size_t i = 0; i < size; i++)
            junk[i] = (uint8_t)rnd();
        if (sparq_validate(ft, out, in, junk, size, NULL) != 0)
            continue;
        // What the validator accepts is a real matrix with one encoding:
        // unpack -> pack with its own mask, scale 1 and the full grid gives
        // the same codes, mask and bytes (a group using padding channels keeps
        // its lowest positions, as the packer writes; docs/format.md section 2).
        accepted++;
        struct sparq_packed a, b;
        int8_t codes[4 * 40];
        float wf[4 * 40], ones[4] = { 1, 1, 1, 1 };
        uint8_t mask[4 * 40];
        int ok = sparq_packed_init(&a, ft->width, ft->kept, out, in) == 0;
        if (ok) {
            memcpy(a.bytes, junk, size);
            sparq_unpack_codes(&a, codes);
            sparq_unpack_mask(&a, mask);
            for (int i = 0; i < out * in; i++)
                wf[i] = codes[i];
            struct sparq_pack_options po = { .grid = SPARQ_GRID_FULL, .scales = ones };
            ok = sparq_pack(&b, wf, mask, ft->width, ft->kept, out, in, &po) == 0;
            if (ok) {
                int8_t codes2[4 * 40];
                uint8_t mask2[4 * 40];
                sparq_unpack_codes(&b, codes2);
                sparq_unpack_mask(&b, mask2);
                ok = b.size == size && !memcmp(codes, codes2, (size_t)(out * in)) &&
                     !memcmp(mask, mask2, (size_t)(out * in)) && !memcmp(a.bytes, b.bytes, size);
                same_bytes += ok;
                sparq_packed_free(&b);
            }
            sparq_packed_free(&a);
        }
        roundtrip += ok;
    }
    printf("# random byte strings accepted: %d of 2000, %d byte-identical after unpack -> pack\n", accepted,
           same_bytes);
    CHECK(accepted > 0 && roundtrip == accepted,
          "validator survives 2000 random byte strings; all %d it accepts round-trip unpack -> pack unchanged (%d did)",
          accepted, roundtrip);
}

// sparq_unpack needs out*in bytes of scratch. With the address space capped
// just above what the process already maps, that allocation fails: the call
// must say so and leave w alone instead of handing back zero weights.
// (ASan reserves terabytes of shadow up front, so the cap only works without it.)
static void test_unpack_out_of_memory(void)
{
#if defined(__SANITIZE_ADDRESS__)
    printf("# unpack out of memory: not checked under ASan (RLIMIT_AS)\n");
#else
    enum { OUT = 256, IN = 16384 }; // 4 MB of codes
    struct sparq_packed p;
    float *w = malloc(sizeof(float) * OUT * IN);
    if (!w || sparq_packed_init(&p, 2, 1, OUT, IN)) {
        CHECK(0, "unpack out of memory: setup");
        free(w);
        return;
    }
    for (int o = 0; o < OUT; o++)
        p.scales[o] = 1.0f;
    for (size_t i = 0; i < (size_t)OUT * IN; i++)
        w[i] = 7.0f;
    struct rlimit old;
    long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    int capped = f && fscanf(f, "%ld", &pages) == 1 && getrlimit(RLIMIT_AS, &old) == 0;
    if (f)
        fclose(f);
    struct rlimit cap = { (rlim_t)pages * 4096 + (1 << 20), old.rlim_max };
    capped = capped && setrlimit(RLIMIT_AS, &cap) == 0;
    int rc = capped ? sparq_unpack(&p, w) : SPARQ_OK;
    if (capped)
        setrlimit(RLIMIT_AS, &old);
    int untouched = 1;
    for (size_t i = 0; i < (size_t)OUT * IN; i++)
        untouched &= w[i] == 7.0f;
    CHECK(capped && rc == SPARQ_ENOMEM && strstr(sparq_last_error(), "unpack") && untouched,
          "unpack out of memory: SPARQ_ENOMEM with a message, weights untouched (rc %d, '%s')", rc,
          sparq_last_error());
    rc = sparq_unpack(&p, w);
    CHECK(rc == SPARQ_OK && w[0] == 0.0f && w[(size_t)OUT * IN - 1] == 0.0f,
          "unpack with memory again: all-zero codes give zero weights");
    sparq_packed_free(&p);
    free(w);
#endif
}

int main(void)
{
    rng_state = check_seed(12345);
    test_unpack_out_of_memory(); // first: the heap holds no freed space yet
    test_type_table();
    test_hand_worked_block();
    test_quantizer();
    test_round_trip();
    test_masks();
    test_validate();
    return check_done();
}
