// Protocol faults on both backends: bad header CRC, bad body CRC, truncated
// command, unknown opcode, wrong lengths, out-of-range shapes and formats,
// repeated and unsorted weight positions, bad requant parameters, commands
// on buffers that are not loaded. Each must get its documented status, the
// device must keep computing correct GEMMs afterwards, and the replies of
// the C model and the RTL must be identical. Then the version-3 commands
// (STORE_W, COMPUTE_S, WRITE_LUT, EPILOGUE, result buffer 1, WRITE_Q / READ
// qaddr): ARG, STATE, LENGTH, CRC, TRUNCATED, POSITIONS, and that a failed
// STORE_W / WRITE_LUT / WRITE_Q or a RESET leaves the store, table or params
// unusable (STATE) until rewritten; and a C model configured without them
// (version 2) answers ARG to each.
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "device_script.h"
#include "sparq_backend.h"
#include "sparq_device.h"
#include "sparq_error.h"
#include "sparq_gemm.h"
#include "sparq_protocol.h"
#include "sparq_wire.h"

// A small GEMM through the driver, compared with sparq_gemm_ref.
static int gemm_ok(struct sparq_device *dev, int width, int kept)
{
    enum { T = 5, OUT = 19, IN = 37 };
    float wf[OUT * IN];
    int8_t x[T * IN];
    int32_t y[T * OUT], want[T * OUT];
    for (int i = 0; i < OUT * IN; i++)
        wf[i] = (float)((i * 37 + 11) % 23) - 11.0f;
    for (int i = 0; i < T * IN; i++)
        x[i] = (int8_t)((i * 53 + 7) % 256 - 128);
    struct sparq_packed w;
    if (sparq_pack(&w, wf, NULL, width, kept, OUT, IN, NULL))
        return 0;
    sparq_gemm_ref(want, OUT, x, IN, &w, T, 0);
    int rc = sparq_device_gemm(dev, y, OUT, x, IN, &w, T, 0);
    sparq_packed_free(&w);
    if (rc) {
        printf("# gemm: %s\n", sparq_last_error());
        return 0;
    }
    return memcmp(y, want, sizeof y) == 0;
}

static void run_faults(struct sparq_device *dev, struct reply_log *log, const struct sparq_device_info *info)
{
    uint8_t buf[4096], args[16], pay[2048];
    size_t n;
    int seq = 100;
    const char *be = sparq_device_backend(dev);

    // Garbage before a command is skipped.
    static const uint8_t junk[] = { 0x00, 0x13, 0xFF, 0x5A };
    sparq_device_send_raw(dev, junk, sizeof junk);
    n = frame(buf, SPARQ_OP_IDENTIFY, seq, NULL, 0, NULL, 0, 0);
    expect(dev, log, buf, n, 0, SPARQ_ST_OK, seq++, "identify after junk bytes");

    // Nothing loaded yet after a reset.
    n = frame(buf, SPARQ_OP_RESET, seq, NULL, 0, NULL, 0, 0);
    expect(dev, log, buf, n, 0, SPARQ_ST_OK, seq++, "reset");
    memset(args, 0, sizeof args);
    args[3] = 8; args[4] = 4; sparq_wr16(args + 6, 4); sparq_wr16(args + 8, 4); sparq_wr16(args + 10, 1);
    n = frame(buf, SPARQ_OP_COMPUTE, seq, args, SPARQ_ARGS_COMPUTE, NULL, 0, 0);
    expect(dev, log, buf, n, 0, SPARQ_ST_STATE, seq++, "compute on empty banks");
    memset(args, 0, sizeof args);
    sparq_wr16(args + 2, 1); sparq_wr16(args + 4, 1);
    n = frame(buf, SPARQ_OP_READ, seq, args, SPARQ_ARGS_READ, NULL, 0, 0);
    expect(dev, log, buf, n, 0, SPARQ_ST_STATE, seq++, "read before any compute");

    // Header CRC.
    n = frame(buf, SPARQ_OP_IDENTIFY, seq, NULL, 0, NULL, 0, 0);
    buf[8] ^= 0x40;
    expect(dev, log, buf, n, 0, SPARQ_ST_HEADER, seq++, "bad header crc");
    CHECK(gemm_ok(dev, 8, 2), "%s: gemm correct after bad header crc", be);

    // Body CRC on a write: the bank must not be used afterwards.
    memset(args, 0, sizeof args);
    sparq_wr16(args + 2, 4); sparq_wr16(args + 4, 1); // bank 0, t=4, kblocks=1
    memset(pay, 3, 64);
    n = frame(buf, SPARQ_OP_WRITE_X, seq, args, SPARQ_ARGS_WRITE_X, pay, 64, 0);
    buf[n - 1] ^= 0x01;
    expect(dev, log, buf, n, 0, SPARQ_ST_CRC, seq++, "bad body crc on write-x");
    CHECK(gemm_ok(dev, 4, 1), "%s: gemm correct after bad body crc", be);

    // Unknown opcode with a body.
    memset(pay, 0xA5, 5);
    n = frame(buf, 0x55, seq, NULL, 0, pay, 5, 0);
    expect(dev, log, buf, n, 0, SPARQ_ST_OPCODE, seq++, "unknown opcode");

    // Lengths.
    n = frame(buf, SPARQ_OP_IDENTIFY, seq, NULL, 0, pay, 3, 0);
    expect(dev, log, buf, n, 0, SPARQ_ST_LENGTH, seq++, "identify with a 3-byte body");
    memset(args, 0, sizeof args);
    args[1] = 8; args[2] = 2; sparq_wr16(args + 4, 1); sparq_wr16(args + 6, 1); // 1 col, 1 block: 10 bytes
    memset(pay, 0, 16);
    n = frame(buf, SPARQ_OP_WRITE_W, seq, args, SPARQ_ARGS_WRITE_W, pay, 11, 0);
    expect(dev, log, buf, n, 0, SPARQ_ST_LENGTH, seq++, "write-w with one byte too many");
    n = frame(buf, SPARQ_OP_WRITE_W, seq, args, 4, NULL, 0, 0);
    expect(dev, log, buf, n, 0, SPARQ_ST_LENGTH, seq++, "write-w shorter than its arguments");
    CHECK(gemm_ok(dev, 2, 4), "%s: gemm correct after length errors", be);

    // Out-of-range shapes and formats.
    memset(args, 0, sizeof args);
    args[3] = 8; args[4] = 4; sparq_wr16(args + 6, (unsigned)info->rdepth + 1); sparq_wr16(args + 8, 4); sparq_wr16(args + 10, 1);
    n = frame(buf, SPARQ_OP_COMPUTE, seq, args, SPARQ_ARGS_COMPUTE, NULL, 0, 0);
    expect(dev, log, buf, n, 0, SPARQ_ST_ARG, seq++, "compute with t > result depth");
    memset(args, 0, sizeof args);
    args[1] = 8; args[2] = 4; sparq_wr16(args + 4, (unsigned)info->cols + 1); sparq_wr16(args + 6, 1);
    memset(pay, 0, (size_t)(16 * (info->cols + 1)));
    n = frame(buf, SPARQ_OP_WRITE_W, seq, args, SPARQ_ARGS_WRITE_W, pay, (size_t)(16 * (info->cols + 1)), 0);
    expect(dev, log, buf, n, 0, SPARQ_ST_ARG, seq++, "write-w with ncols > COLS (body skipped)");
    memset(args, 0, sizeof args);
    sparq_wr16(args + 2, 1); sparq_wr16(args + 4, 0xFFFF);
    n = frame(buf, SPARQ_OP_WRITE_X, seq, args, SPARQ_ARGS_WRITE_X, NULL, 0, 0);
    expect(dev, log, buf, n, 0, SPARQ_ST_ARG, seq++, "write-x larger than the activation bank");
    memset(args, 0, sizeof args);
    args[1] = 3; args[2] = 2; sparq_wr16(args + 4, 1); sparq_wr16(args + 6, 1);
    n = frame(buf, SPARQ_OP_WRITE_W, seq, args, SPARQ_ARGS_WRITE_W, NULL, 0, 0);
    expect(dev, log, buf, n, 0, SPARQ_ST_ARG, seq++, "write-w with width 3");
    memset(args, 0, sizeof args);
    sparq_wr16(args + 2, 1); sparq_wr16(args + 4, 0);
    n = frame(buf, SPARQ_OP_READ, seq, args, SPARQ_ARGS_READ, NULL, 0, 0);
    expect(dev, log, buf, n, 0, SPARQ_ST_ARG, seq++, "read with ncols 0");
    CHECK(gemm_ok(dev, 8, 1), "%s: gemm correct after argument errors", be);

    // Positions in an int8 2:4 block: one bad pair among four good ones, in each
    // group (the four-lane loader checks a block's four pairs at once): repeated
    // (1,1) and unsorted (3,0) in group 0, repeated (2,2) in group 1, unsorted (3,1)
    // in group 2, repeated (0,0) in group 3. Group g's pair is in bits 4(g%2)..+3
    // of position byte g/2.
    static const uint8_t bad_pairs[5][3] = { { 0, 1, 1 }, { 0, 3, 0 }, { 1, 2, 2 }, { 2, 3, 1 }, { 3, 0, 0 } };
    for (int k = 0; k < 5; k++) {
        memset(args, 0, sizeof args);
        args[0] = 1; args[1] = 8; args[2] = 2; sparq_wr16(args + 4, 1); sparq_wr16(args + 6, 1);
        memset(pay, 1, 10);
        uint8_t pairs[4] = { 1 | 3 << 2, 1 | 3 << 2, 1 | 3 << 2, 1 | 3 << 2 }; // (1,3): fine
        const uint8_t *bp = bad_pairs[k];
        pairs[bp[0]] = (uint8_t)(bp[1] | bp[2] << 2);
        pay[8] = (uint8_t)(pairs[0] | pairs[1] << 4);
        pay[9] = (uint8_t)(pairs[2] | pairs[3] << 4);
        n = frame(buf, SPARQ_OP_WRITE_W, seq, args, SPARQ_ARGS_WRITE_W, pay, 10, 0);
        char what[64];
        snprintf(what, sizeof what, "%s positions (%d,%d) in group %d", bp[1] == bp[2] ? "repeated" : "unsorted",
                 bp[1], bp[2], bp[0]);
        expect(dev, log, buf, n, 0, SPARQ_ST_POSITIONS, seq++, what);
    }
    memset(args, 0, sizeof args);
    args[0] = 1; sparq_wr16(args + 2, 4); sparq_wr16(args + 4, 1);
    memset(pay, 2, 64);
    n = frame(buf, SPARQ_OP_WRITE_X, seq, args, SPARQ_ARGS_WRITE_X, pay, 64, 0);
    expect(dev, log, buf, n, 0, SPARQ_ST_OK, seq++, "write-x bank 1");
    memset(args, 0, sizeof args);
    args[0] = 1; args[1] = 1; args[3] = 8; args[4] = 2; sparq_wr16(args + 6, 4); sparq_wr16(args + 8, 1); sparq_wr16(args + 10, 1);
    n = frame(buf, SPARQ_OP_COMPUTE, seq, args, SPARQ_ARGS_COMPUTE, NULL, 0, 0);
    expect(dev, log, buf, n, 0, SPARQ_ST_STATE, seq++, "compute on the rejected weight bank");
    // Same shape, valid positions: accepted, and accumulate onto it works.
    memset(args, 0, sizeof args);
    args[0] = 1; args[1] = 8; args[2] = 2; sparq_wr16(args + 4, 1); sparq_wr16(args + 6, 1);
    pay[8] = 0x1 << 2 | 0x1 << 6 | 0x0; // (0,1) (0,1)
    pay[9] = 0x1 << 2 | 0x1 << 6;
    n = frame(buf, SPARQ_OP_WRITE_W, seq, args, SPARQ_ARGS_WRITE_W, pay, 10, 0);
    expect(dev, log, buf, n, 0, SPARQ_ST_OK, seq++, "write-w with sorted positions");
    memset(args, 0, sizeof args);
    args[0] = 1; args[1] = 1; args[3] = 8; args[4] = 2; sparq_wr16(args + 6, 4); sparq_wr16(args + 8, 1); sparq_wr16(args + 10, 1);
    n = frame(buf, SPARQ_OP_COMPUTE, seq, args, SPARQ_ARGS_COMPUTE, NULL, 0, 0);
    expect(dev, log, buf, n, 0, SPARQ_ST_OK, seq++, "compute");
    sparq_wr16(args + 12, 1); // activation offset past the bank's one block
    n = frame(buf, SPARQ_OP_COMPUTE, seq, args, SPARQ_ARGS_COMPUTE, NULL, 0, 0);
    expect(dev, log, buf, n, 0, SPARQ_ST_STATE, seq++, "compute with xoffset beyond the activation rows");
    memset(args, 0, sizeof args);
    args[0] = 1; sparq_wr16(args + 2, 4); sparq_wr16(args + 4, 1);
    n = frame(buf, SPARQ_OP_READ, seq, args, SPARQ_ARGS_READ, NULL, 0, 0);
    expect(dev, log, buf, n, 0, SPARQ_ST_STATE, seq++, "requantized read without params");

    // Requant parameters out of range.
    memset(args, 0, sizeof args);
    sparq_wr16(args, 1);
    memset(pay, 0, 9);
    sparq_wr32(pay + 4, 0x80000000u);
    n = frame(buf, SPARQ_OP_WRITE_Q, seq, args, SPARQ_ARGS_WRITE_Q, pay, 9, 0);
    expect(dev, log, buf, n, 0, SPARQ_ST_ARG, seq++, "write-q with mult >= 2^31");
    sparq_wr32(pay + 4, 5);
    pay[8] = 63;
    n = frame(buf, SPARQ_OP_WRITE_Q, seq, args, SPARQ_ARGS_WRITE_Q, pay, 9, 0);
    expect(dev, log, buf, n, 0, SPARQ_ST_ARG, seq++, "write-q with shift 63");

    // Truncated write: header and half the payload, then silence.
    memset(args, 0, sizeof args);
    args[0] = 1; sparq_wr16(args + 2, 4); sparq_wr16(args + 4, 1);
    memset(pay, 9, 64);
    n = frame(buf, SPARQ_OP_WRITE_X, seq, args, SPARQ_ARGS_WRITE_X, pay, 64, 0);
    expect(dev, log, buf, n - 40, 1, SPARQ_ST_TRUNCATED, seq++, "truncated write-x");
    memset(args, 0, sizeof args);
    args[0] = 1; args[1] = 1; args[3] = 8; args[4] = 2; sparq_wr16(args + 6, 4); sparq_wr16(args + 8, 1); sparq_wr16(args + 10, 1);
    n = frame(buf, SPARQ_OP_COMPUTE, seq, args, SPARQ_ARGS_COMPUTE, NULL, 0, 0);
    expect(dev, log, buf, n, 0, SPARQ_ST_STATE, seq++, "compute on the truncated activation bank");
    // Truncated inside the header.
    n = frame(buf, SPARQ_OP_IDENTIFY, seq, NULL, 0, NULL, 0, 0);
    expect(dev, log, buf, 5, 1, SPARQ_ST_TRUNCATED, seq++, "truncated header");
    CHECK(gemm_ok(dev, 4, 2), "%s: gemm correct after truncations", be);
    CHECK(gemm_ok(dev, 2, 1), "%s: gemm correct at the end", be);
}

// Argument builders for the version-3 commands.
static size_t store_w(uint8_t *a, int width, int kept, int ncols, int kb, uint32_t addr)
{
    memset(a, 0, SPARQ_ARGS_STORE_W);
    a[0] = (uint8_t)width; a[1] = (uint8_t)kept; sparq_wr16(a + 2, (unsigned)ncols); sparq_wr16(a + 4, (unsigned)kb);
    sparq_wr32(a + 8, addr);
    return SPARQ_ARGS_STORE_W;
}
static size_t compute_s(uint8_t *a, uint32_t addr, int xb, int flags, int t, int ncols, int kb, int xoff)
{
    memset(a, 0, SPARQ_ARGS_COMPUTE_S);
    sparq_wr32(a, addr);
    a[4] = (uint8_t)xb; a[5] = (uint8_t)flags; a[6] = 8; a[7] = 4;
    sparq_wr16(a + 8, (unsigned)t); sparq_wr16(a + 10, (unsigned)ncols); sparq_wr16(a + 12, (unsigned)kb);
    sparq_wr16(a + 14, (unsigned)xoff);
    return SPARQ_ARGS_COMPUTE_S;
}
static size_t epilogue(uint8_t *a, int rbuf, int dst, int lut, int t, int ncols, int qaddr, int dblock, int dkb)
{
    memset(a, 0, SPARQ_ARGS_EPILOGUE);
    a[0] = (uint8_t)rbuf; a[1] = (uint8_t)dst; a[2] = (uint8_t)lut;
    sparq_wr16(a + 4, (unsigned)t); sparq_wr16(a + 6, (unsigned)ncols); sparq_wr16(a + 8, (unsigned)qaddr);
    sparq_wr16(a + 10, (unsigned)dblock); sparq_wr16(a + 12, (unsigned)dkb);
    return SPARQ_ARGS_EPILOGUE;
}
static size_t read_args(uint8_t *a, int mode, int rbuf, int t, int ncols, int qaddr)
{
    memset(a, 0, SPARQ_ARGS_READ);
    a[0] = (uint8_t)mode; a[1] = (uint8_t)rbuf;
    sparq_wr16(a + 2, (unsigned)t); sparq_wr16(a + 4, (unsigned)ncols); sparq_wr16(a + 6, (unsigned)qaddr);
    return SPARQ_ARGS_READ;
}

// The version-3 commands' faults on a device with every version-3 feature.
static void run_faults_v3(struct sparq_device *dev, struct reply_log *log, const struct sparq_device_info *info)
{
    uint8_t buf[4096], a[16], pay[2048], lut[256];
    size_t n, na;
    int seq = 10;
    const char *be = sparq_device_backend(dev);
    uint32_t top = (uint32_t)info->wstore;
    for (int i = 0; i < 256; i++)
        lut[i] = (uint8_t)(255 - i);
    for (int i = 0; i < 16; i++) // int8 4:4 block: 16 values
        pay[i] = (uint8_t)(i * 7 - 50);
#define SEND(op, args, nargs, p, np, st, what) \
    do { n = frame(buf, op, seq, args, nargs, p, np, 0); expect(dev, log, buf, n, 0, st, seq++, what); } while (0)

    SEND(SPARQ_OP_RESET, NULL, 0, NULL, 0, SPARQ_ST_OK, "v3 reset");
    na = compute_s(a, 100, 0, 0, 4, 1, 1, 0);
    SEND(SPARQ_OP_COMPUTE_S, a, na, NULL, 0, SPARQ_ST_STATE, "compute-s with an empty store");
    // STORE_W arguments and lengths.
    na = store_w(a, 3, 4, 1, 1, 100);
    SEND(SPARQ_OP_STORE_W, a, na, pay, 16, SPARQ_ST_ARG, "store-w width 3");
    na = store_w(a, 8, 4, 0, 1, 100);
    SEND(SPARQ_OP_STORE_W, a, na, NULL, 0, SPARQ_ST_ARG, "store-w ncols 0");
    na = store_w(a, 8, 4, info->cols + 1, 1, 100);
    SEND(SPARQ_OP_STORE_W, a, na, pay, 0, SPARQ_ST_ARG, "store-w ncols > COLS");
    na = store_w(a, 8, 4, 1, 0, 100);
    SEND(SPARQ_OP_STORE_W, a, na, NULL, 0, SPARQ_ST_ARG, "store-w kblocks 0");
    na = store_w(a, 8, 4, 1, 1, top - 8);
    SEND(SPARQ_OP_STORE_W, a, na, pay, 16, SPARQ_ST_ARG, "store-w past the store's end");
    na = store_w(a, 8, 4, 1, 1, 100);
    SEND(SPARQ_OP_STORE_W, a, na, pay, 17, SPARQ_ST_LENGTH, "store-w with one byte too many");
    SEND(SPARQ_OP_STORE_W, a, 4, NULL, 0, SPARQ_ST_LENGTH, "store-w shorter than its arguments");
    SEND(SPARQ_OP_STORE_W, a, na, pay, 16, SPARQ_ST_OK, "store-w");
    // Activations in bank 3, a COMPUTE_S, both result buffers.
    memset(a, 0, sizeof a);
    a[0] = 3; sparq_wr16(a + 2, 4); sparq_wr16(a + 4, 1);
    for (int i = 0; i < 64; i++)
        pay[100 + i] = (uint8_t)(i * 13 + 5);
    SEND(SPARQ_OP_WRITE_X, a, SPARQ_ARGS_WRITE_X, pay + 100, 64, SPARQ_ST_OK, "write-x bank 3");
    a[0] = (uint8_t)info->xbanks;
    SEND(SPARQ_OP_WRITE_X, a, SPARQ_ARGS_WRITE_X, pay + 100, 64, SPARQ_ST_ARG, "write-x bank XBANKS");
    na = compute_s(a, 100, 3, 0, 4, 1, 1, 0);
    SEND(SPARQ_OP_COMPUTE_S, a, na, NULL, 0, SPARQ_ST_OK, "compute-s");
    na = read_args(a, 0, 0, 4, 1, 0);
    SEND(SPARQ_OP_READ, a, na, NULL, 0, SPARQ_ST_OK, "read buffer 0");
    na = compute_s(a, 100, info->xbanks, 0, 4, 1, 1, 0);
    SEND(SPARQ_OP_COMPUTE_S, a, na, NULL, 0, SPARQ_ST_ARG, "compute-s xbank XBANKS");
    na = compute_s(a, top - 8, 3, 0, 4, 1, 1, 0);
    SEND(SPARQ_OP_COMPUTE_S, a, na, NULL, 0, SPARQ_ST_ARG, "compute-s past the store's end");
    na = compute_s(a, 100, 3, 0, 4, info->cols + 1, 1, 0);
    SEND(SPARQ_OP_COMPUTE_S, a, na, NULL, 0, SPARQ_ST_ARG, "compute-s ncols > COLS");
    SEND(SPARQ_OP_COMPUTE_S, a, 15, NULL, 0, SPARQ_ST_LENGTH, "compute-s with 15 argument bytes");
    na = compute_s(a, 100, 2, 0, 4, 1, 1, 0);
    SEND(SPARQ_OP_COMPUTE_S, a, na, NULL, 0, SPARQ_ST_STATE, "compute-s on an empty activation bank");
    na = compute_s(a, 100, 3, SPARQ_COMPUTE_ACCUMULATE | SPARQ_COMPUTE_RBUF, 4, 1, 1, 0);
    SEND(SPARQ_OP_COMPUTE_S, a, na, NULL, 0, SPARQ_ST_STATE, "compute-s accumulating into empty buffer 1");
    na = compute_s(a, 100, 3, 0, 4, 1, 1, 1);
    SEND(SPARQ_OP_COMPUTE_S, a, na, NULL, 0, SPARQ_ST_STATE, "compute-s with xoffset beyond the bank");
    na = compute_s(a, 100, 3, SPARQ_COMPUTE_RBUF, 4, 1, 1, 0);
    SEND(SPARQ_OP_COMPUTE_S, a, na, NULL, 0, SPARQ_ST_OK, "compute-s into buffer 1");
    na = read_args(a, 0, 1, 4, 1, 0);
    SEND(SPARQ_OP_READ, a, na, NULL, 0, SPARQ_ST_OK, "read buffer 1");
    na = read_args(a, 0, 2, 4, 1, 0);
    SEND(SPARQ_OP_READ, a, na, NULL, 0, SPARQ_ST_ARG, "read buffer 2");
    n = frame(buf, SPARQ_OP_COMPUTE_S, seq, a, SPARQ_ARGS_COMPUTE_S, NULL, 0, 0);
    buf[n - 2] ^= 0x10;
    expect(dev, log, buf, n, 0, SPARQ_ST_CRC, seq++, "bad body crc on compute-s");
    // A failed STORE_W leaves the store unusable until one succeeds.
    na = store_w(a, 8, 4, 1, 1, 100);
    n = frame(buf, SPARQ_OP_STORE_W, seq, a, na, pay, 16, 0);
    buf[n - 1] ^= 0x01;
    expect(dev, log, buf, n, 0, SPARQ_ST_CRC, seq++, "bad body crc on store-w");
    na = compute_s(a, 100, 3, 0, 4, 1, 1, 0);
    SEND(SPARQ_OP_COMPUTE_S, a, na, NULL, 0, SPARQ_ST_STATE, "compute-s after the corrupted store-w");
    na = store_w(a, 8, 4, 1, 1, 100);
    SEND(SPARQ_OP_STORE_W, a, na, pay, 16, SPARQ_ST_OK, "store-w again");
    n = frame(buf, SPARQ_OP_STORE_W, seq, a, na, pay, 16, 0);
    expect(dev, log, buf, n - 8, 1, SPARQ_ST_TRUNCATED, seq++, "truncated store-w");
    na = compute_s(a, 100, 3, 0, 4, 1, 1, 0);
    SEND(SPARQ_OP_COMPUTE_S, a, na, NULL, 0, SPARQ_ST_STATE, "compute-s after the truncated store-w");
    na = store_w(a, 8, 2, 1, 1, 200);
    uint8_t bad[10];
    memset(bad, 1, 10);
    bad[8] = (uint8_t)(1 | 1 << 2 | 0x10 | 3 << 6); // group 0 positions (1, 1): repeated
    bad[9] = 0x1 | 3 << 2 | 0x1 << 4 | 3 << 6;
    SEND(SPARQ_OP_STORE_W, a, na, bad, 10, SPARQ_ST_POSITIONS, "store-w with repeated positions");
    na = compute_s(a, 100, 3, 0, 4, 1, 1, 0);
    SEND(SPARQ_OP_COMPUTE_S, a, na, NULL, 0, SPARQ_ST_STATE, "compute-s after the rejected store-w");
    na = store_w(a, 8, 4, 1, 1, 100);
    SEND(SPARQ_OP_STORE_W, a, na, pay, 16, SPARQ_ST_OK, "store-w once more");
    na = store_w(a, 8, 4, 1, 1, top - 8);
    SEND(SPARQ_OP_STORE_W, a, na, pay, 16, SPARQ_ST_ARG, "store-w past the end (rejected before writing)");
    na = compute_s(a, 100, 3, 0, 4, 1, 1, 0);
    SEND(SPARQ_OP_COMPUTE_S, a, na, NULL, 0, SPARQ_ST_OK, "compute-s after the store-w argument error");
    na = store_w(a, 8, 4, 1, 1, 100);
    SEND(SPARQ_OP_STORE_W, a, na, pay, 15, SPARQ_ST_LENGTH, "store-w one byte short");
    na = compute_s(a, 100, 3, 0, 4, 1, 1, 0);
    SEND(SPARQ_OP_COMPUTE_S, a, na, NULL, 0, SPARQ_ST_STATE, "compute-s after the store-w length error");
    na = store_w(a, 8, 4, 1, 1, 100);
    SEND(SPARQ_OP_STORE_W, a, na, pay, 16, SPARQ_ST_OK, "store-w to restore it");
    na = compute_s(a, 100, 3, 0, 4, 1, 1, 0);
    SEND(SPARQ_OP_COMPUTE_S, a, na, NULL, 0, SPARQ_ST_OK, "compute-s into buffer 0 again");
    na = compute_s(a, 100, 3, SPARQ_COMPUTE_RBUF, 4, 1, 1, 0);
    SEND(SPARQ_OP_COMPUTE_S, a, na, NULL, 0, SPARQ_ST_OK, "compute-s into buffer 1 again");

    // Parameters at qaddr.
    for (int c = 0; c < 20; c++) {
        sparq_wr32(pay + 200 + 9 * c, (uint32_t)(c * 1000 - 5000));
        sparq_wr32(pay + 204 + 9 * c, 0x40000000u + (uint32_t)c);
        pay[208 + 9 * c] = (uint8_t)(20 + c);
    }
    memset(a, 0, sizeof a);
    sparq_wr16(a, 2); sparq_wr16(a + 2, (unsigned)info->qdepth - 1);
    SEND(SPARQ_OP_WRITE_Q, a, SPARQ_ARGS_WRITE_Q, pay + 200, 18, SPARQ_ST_ARG, "write-q past QDEPTH");
    sparq_wr16(a, (unsigned)info->cols + 1); sparq_wr16(a + 2, 100);
    SEND(SPARQ_OP_WRITE_Q, a, SPARQ_ARGS_WRITE_Q, pay + 200, 9 * (size_t)(info->cols + 1), SPARQ_ST_ARG,
         "write-q of COLS + 1 entries");
    sparq_wr16(a, 20); sparq_wr16(a + 2, 100);
    SEND(SPARQ_OP_WRITE_Q, a, SPARQ_ARGS_WRITE_Q, pay + 200, 180, info->cols >= 20 ? SPARQ_ST_OK : SPARQ_ST_ARG,
         "write-q of 20 entries at 100");
    sparq_wr16(a, 16); sparq_wr16(a + 2, 100);
    SEND(SPARQ_OP_WRITE_Q, a, SPARQ_ARGS_WRITE_Q, pay + 200, 144, SPARQ_ST_OK, "write-q of 16 entries at 100");
    sparq_wr16(a, 4); sparq_wr16(a + 2, 116);
    SEND(SPARQ_OP_WRITE_Q, a, SPARQ_ARGS_WRITE_Q, pay + 200 + 144, 36, SPARQ_ST_OK, "write-q of 4 entries at 116");
    na = read_args(a, 1, 0, 4, 1, 119);
    SEND(SPARQ_OP_READ, a, na, NULL, 0, SPARQ_ST_OK, "requant read with qaddr 119");
    na = read_args(a, 1, 0, 4, 2, info->qdepth - 1);
    SEND(SPARQ_OP_READ, a, na, NULL, 0, SPARQ_ST_ARG, "requant read past QDEPTH");

    // Tables.
    memset(a, 0, sizeof a);
    a[0] = (uint8_t)info->luts;
    SEND(SPARQ_OP_WRITE_LUT, a, SPARQ_ARGS_WRITE_LUT, lut, 256, SPARQ_ST_ARG, "write-lut table LUTS");
    a[0] = 3;
    SEND(SPARQ_OP_WRITE_LUT, a, SPARQ_ARGS_WRITE_LUT, lut, 255, SPARQ_ST_LENGTH, "write-lut with 255 entries");
    SEND(SPARQ_OP_WRITE_LUT, a, SPARQ_ARGS_WRITE_LUT, lut, 256, SPARQ_ST_OK, "write-lut table 3");
    n = frame(buf, SPARQ_OP_WRITE_LUT, seq, a, SPARQ_ARGS_WRITE_LUT, lut, 256, 0);
    buf[n - 1] ^= 0x80;
    expect(dev, log, buf, n, 0, SPARQ_ST_CRC, seq++, "bad body crc on write-lut");
    na = epilogue(a, 0, 2, 3, 4, 1, 119, 0, 2);
    SEND(SPARQ_OP_EPILOGUE, a, na, NULL, 0, SPARQ_ST_STATE, "epilogue with the corrupted table");
    memset(a, 0, sizeof a);
    a[0] = 3;
    n = frame(buf, SPARQ_OP_WRITE_LUT, seq, a, SPARQ_ARGS_WRITE_LUT, lut, 256, 0);
    expect(dev, log, buf, n - 100, 1, SPARQ_ST_TRUNCATED, seq++, "truncated write-lut");
    na = epilogue(a, 0, 2, 3, 4, 1, 119, 0, 2);
    SEND(SPARQ_OP_EPILOGUE, a, na, NULL, 0, SPARQ_ST_STATE, "epilogue with the truncated table");
    memset(a, 0, sizeof a);
    a[0] = 3;
    SEND(SPARQ_OP_WRITE_LUT, a, SPARQ_ARGS_WRITE_LUT, lut, 256, SPARQ_ST_OK, "write-lut table 3 again");

    // EPILOGUE: two blocks into bank 2, then a COMPUTE_S from it.
    na = epilogue(a, 0, 2, 3, 4, 1, 119, 0, 2);
    SEND(SPARQ_OP_EPILOGUE, a, na, NULL, 0, SPARQ_ST_OK, "epilogue block 0 of 2");
    na = compute_s(a, 100, 2, 0, 4, 1, 1, 0);
    SEND(SPARQ_OP_COMPUTE_S, a, na, NULL, 0, SPARQ_ST_STATE, "compute-s on a half-filled bank");
    na = epilogue(a, 1, 2, SPARQ_LUT_NONE, 3, 1, 100, 1, 2);
    SEND(SPARQ_OP_EPILOGUE, a, na, NULL, 0, SPARQ_ST_STATE, "epilogue block 1 with another t");
    na = epilogue(a, 1, 2, SPARQ_LUT_NONE, 4, 1, 100, 0 + 2 - 1, 3);
    SEND(SPARQ_OP_EPILOGUE, a, na, NULL, 0, SPARQ_ST_STATE, "epilogue block 1 with another dkblocks");
    na = epilogue(a, 1, 2, SPARQ_LUT_NONE, 4, 1, 100, 1, 2);
    SEND(SPARQ_OP_EPILOGUE, a, na, NULL, 0, SPARQ_ST_OK, "epilogue block 1 of 2 (no table)");
    na = epilogue(a, 1, 2, SPARQ_LUT_NONE, 4, 1, 100, 1, 2);
    SEND(SPARQ_OP_EPILOGUE, a, na, NULL, 0, SPARQ_ST_STATE, "epilogue block 1 twice");
    na = compute_s(a, 100, 2, 0, 4, 1, 1, 0);
    SEND(SPARQ_OP_COMPUTE_S, a, na, NULL, 0, SPARQ_ST_OK, "compute-s on the epilogue's bank, block 0");
    na = read_args(a, 0, 0, 4, 1, 0);
    SEND(SPARQ_OP_READ, a, na, NULL, 0, SPARQ_ST_OK, "read the table's activations times W");
    na = compute_s(a, 100, 2, 0, 4, 1, 1, 1);
    SEND(SPARQ_OP_COMPUTE_S, a, na, NULL, 0, SPARQ_ST_OK, "compute-s on the epilogue's bank, block 1");
    na = read_args(a, 0, 0, 4, 1, 0);
    SEND(SPARQ_OP_READ, a, na, NULL, 0, SPARQ_ST_OK, "read the requantized activations times W");
    struct { int rbuf, dst, lut, t, ncols, qaddr, dblock, dkb; const char *what; } args_bad[] = {
        { 2, 2, 3, 4, 1, 119, 0, 2, "epilogue rbuf 2" },
        { 0, info->xbanks, 3, 4, 1, 119, 0, 2, "epilogue dst XBANKS" },
        { 0, 2, info->luts, 4, 1, 119, 0, 2, "epilogue table LUTS" },
        { 0, 2, 3, 4, 17, 100, 0, 2, "epilogue ncols 17" },
        { 0, 2, 3, 4, 0, 100, 0, 2, "epilogue ncols 0" },
        { 0, 2, 3, 0, 1, 100, 0, 2, "epilogue t 0" },
        { 0, 2, 3, 4, 1, 100, 0, 0, "epilogue dkblocks 0" },
        { 0, 2, 3, 4, 1, 100, 2, 2, "epilogue dblock = dkblocks" },
        { 0, 2, 3, info->rdepth, 1, 100, 0, 4 * info->xdepth, "epilogue larger than the bank" },
        { 0, 2, 3, 4, 2, info->qdepth - 1, 0, 2, "epilogue params past QDEPTH" },
    };
    for (size_t i = 0; i < sizeof args_bad / sizeof args_bad[0]; i++) {
        na = epilogue(a, args_bad[i].rbuf, args_bad[i].dst, args_bad[i].lut, args_bad[i].t, args_bad[i].ncols,
                      args_bad[i].qaddr, args_bad[i].dblock, args_bad[i].dkb);
        SEND(SPARQ_OP_EPILOGUE, a, na, NULL, 0, SPARQ_ST_ARG, args_bad[i].what);
    }
    na = epilogue(a, 0, 2, 3, 4, 1, 119, 0, 2);
    SEND(SPARQ_OP_EPILOGUE, a, 13, NULL, 0, SPARQ_ST_LENGTH, "epilogue with 13 argument bytes");
    n = frame(buf, SPARQ_OP_EPILOGUE, seq, a, na, NULL, 0, 0);
    buf[12] ^= 0x04;
    expect(dev, log, buf, n, 0, SPARQ_ST_CRC, seq++, "bad body crc on epilogue");
    na = epilogue(a, 0, 1, 3, 4, 1, 119, 1, 2);
    SEND(SPARQ_OP_EPILOGUE, a, na, NULL, 0, SPARQ_ST_STATE, "epilogue block 1 of a bank never started");
    na = epilogue(a, 0, 1, 3, 4, 2, 119, 0, 2);
    SEND(SPARQ_OP_EPILOGUE, a, na, NULL, 0, SPARQ_ST_STATE, "epilogue of more channels than the results");
    na = epilogue(a, 0, 1, 3, 5, 1, 119, 0, 2);
    SEND(SPARQ_OP_EPILOGUE, a, na, NULL, 0, SPARQ_ST_STATE, "epilogue of other frames than the results");
    memset(a, 0, sizeof a);
    sparq_wr16(a, 1); sparq_wr16(a + 2, 100);
    memset(pay + 400, 0, 9);
    pay[408] = 63;
    SEND(SPARQ_OP_WRITE_Q, a, SPARQ_ARGS_WRITE_Q, pay + 400, 9, SPARQ_ST_ARG, "write-q with shift 63 at qaddr 100");
    na = epilogue(a, 0, 1, 3, 4, 1, 119, 0, 2);
    SEND(SPARQ_OP_EPILOGUE, a, na, NULL, 0, SPARQ_ST_STATE, "epilogue after the failed write-q");
    na = read_args(a, 1, 0, 4, 1, 119);
    SEND(SPARQ_OP_READ, a, na, NULL, 0, SPARQ_ST_STATE, "requant read after the failed write-q");
    na = epilogue(a, 0, 1, 3, 4, 1, 119, 0, 2);
    n = frame(buf, SPARQ_OP_EPILOGUE, seq, a, na, NULL, 0, 0);
    expect(dev, log, buf, 15, 1, SPARQ_ST_TRUNCATED, seq++, "truncated epilogue");

    // RESET clears the store, tables, params, both result buffers, every bank.
    memset(a, 0, sizeof a);
    sparq_wr16(a, 16); sparq_wr16(a + 2, 100);
    SEND(SPARQ_OP_WRITE_Q, a, SPARQ_ARGS_WRITE_Q, pay + 200, 144, SPARQ_ST_OK, "write-q before the reset");
    SEND(SPARQ_OP_RESET, NULL, 0, NULL, 0, SPARQ_ST_OK, "reset");
    na = compute_s(a, 100, 3, 0, 4, 1, 1, 0);
    SEND(SPARQ_OP_COMPUTE_S, a, na, NULL, 0, SPARQ_ST_STATE, "compute-s after reset");
    na = read_args(a, 0, 1, 4, 1, 0);
    SEND(SPARQ_OP_READ, a, na, NULL, 0, SPARQ_ST_STATE, "read buffer 1 after reset");
    na = store_w(a, 8, 4, 1, 1, 100);
    SEND(SPARQ_OP_STORE_W, a, na, pay, 16, SPARQ_ST_OK, "store-w after reset");
    na = compute_s(a, 100, 3, 0, 4, 1, 1, 0);
    SEND(SPARQ_OP_COMPUTE_S, a, na, NULL, 0, SPARQ_ST_STATE, "compute-s on bank 3 after reset");
    memset(a, 0, sizeof a);
    a[0] = 3; sparq_wr16(a + 2, 4); sparq_wr16(a + 4, 1);
    SEND(SPARQ_OP_WRITE_X, a, SPARQ_ARGS_WRITE_X, pay + 100, 64, SPARQ_ST_OK, "write-x bank 3 after reset");
    na = compute_s(a, 100, 3, 0, 4, 1, 1, 0);
    SEND(SPARQ_OP_COMPUTE_S, a, na, NULL, 0, SPARQ_ST_OK, "compute-s: the store's contents survived the reset");
    na = read_args(a, 0, 0, 4, 1, 0);
    SEND(SPARQ_OP_READ, a, na, NULL, 0, SPARQ_ST_OK, "read after reset");
    na = epilogue(a, 0, 1, 3, 4, 1, 100, 0, 1);
    SEND(SPARQ_OP_EPILOGUE, a, na, NULL, 0, SPARQ_ST_STATE, "epilogue after reset (no params, no table)");
#undef SEND
    CHECK(gemm_ok(dev, 8, 4), "%s: gemm correct after the version-3 faults", be);
}

// A C model without the version-3 features: each new command or meaning is ARG.
static void no_v3(void)
{
    static const struct sparq_device_config v2 = {
        .rows = 16, .cols = 16, .wdepth = 1024, .xdepth = 4096, .rdepth = 256, .timeout = 4096, .lanes = 4,
    };
    struct sparq_transport tr;
    struct sparq_device *dev;
    if (sparq_transport_ref(&tr, &v2) || sparq_device_open_transport(&dev, tr)) {
        CHECK(0, "open a version-2 C model: %s", sparq_last_error());
        return;
    }
    struct reply_log log;
    memset(&log, 0, sizeof log);
    uint8_t buf[512], a[16], pay[256];
    size_t n, na;
    int seq = 0;
    memset(pay, 0, sizeof pay);
    na = store_w(a, 8, 4, 1, 1, 0);
    n = frame(buf, SPARQ_OP_STORE_W, seq, a, na, pay, 16, 0);
    expect(dev, &log, buf, n, 0, SPARQ_ST_ARG, seq++, "v2 model: store-w (no store)");
    na = compute_s(a, 0, 0, 0, 4, 1, 1, 0);
    n = frame(buf, SPARQ_OP_COMPUTE_S, seq, a, na, NULL, 0, 0);
    expect(dev, &log, buf, n, 0, SPARQ_ST_ARG, seq++, "v2 model: compute-s (no store)");
    memset(a, 0, sizeof a);
    n = frame(buf, SPARQ_OP_WRITE_LUT, seq, a, SPARQ_ARGS_WRITE_LUT, pay, 256, 0);
    expect(dev, &log, buf, n, 0, SPARQ_ST_ARG, seq++, "v2 model: write-lut (no tables)");
    na = epilogue(a, 0, 1, SPARQ_LUT_NONE, 4, 1, 0, 0, 1);
    n = frame(buf, SPARQ_OP_EPILOGUE, seq, a, na, NULL, 0, 0);
    expect(dev, &log, buf, n, 0, SPARQ_ST_ARG, seq++, "v2 model: epilogue without a table (no epilogue)");
    na = epilogue(a, 0, 1, 0, 4, 1, 0, 0, 1);
    n = frame(buf, SPARQ_OP_EPILOGUE, seq, a, na, NULL, 0, 0);
    expect(dev, &log, buf, n, 0, SPARQ_ST_ARG, seq++, "v2 model: epilogue with table 0 (no tables)");
    memset(a, 0, sizeof a);
    a[2] = SPARQ_COMPUTE_RBUF; a[3] = 8; a[4] = 4; sparq_wr16(a + 6, 4); sparq_wr16(a + 8, 1); sparq_wr16(a + 10, 1);
    n = frame(buf, SPARQ_OP_COMPUTE, seq, a, SPARQ_ARGS_COMPUTE, NULL, 0, 0);
    expect(dev, &log, buf, n, 0, SPARQ_ST_ARG, seq++, "v2 model: compute into result buffer 1");
    na = read_args(a, 0, 1, 4, 1, 0);
    n = frame(buf, SPARQ_OP_READ, seq, a, na, NULL, 0, 0);
    expect(dev, &log, buf, n, 0, SPARQ_ST_ARG, seq++, "v2 model: read result buffer 1");
    memset(a, 0, sizeof a);
    a[0] = 2; sparq_wr16(a + 2, 4); sparq_wr16(a + 4, 1);
    n = frame(buf, SPARQ_OP_WRITE_X, seq, a, SPARQ_ARGS_WRITE_X, pay, 64, 0);
    expect(dev, &log, buf, n, 0, SPARQ_ST_ARG, seq++, "v2 model: write-x bank 2");
    memset(a, 0, sizeof a);
    sparq_wr16(a, 1); sparq_wr16(a + 2, 16);
    n = frame(buf, SPARQ_OP_WRITE_Q, seq, a, SPARQ_ARGS_WRITE_Q, pay, 9, 0);
    expect(dev, &log, buf, n, 0, SPARQ_ST_ARG, seq++, "v2 model: write-q at qaddr COLS");
    sparq_device_close(dev);
}

int main(void)
{
    const char *backends[2] = { "ref", "sim" };
    struct reply_log logs[2];
    int caps[2] = { 0, 0 };
    memset(logs, 0, sizeof logs);
    for (int b = 0; b < 2; b++) {
        struct sparq_device *dev = open_raw_checked(backends[b]);
        if (!dev)
            return check_done();
        struct sparq_device_info info;
        CHECK(sparq_device_identify(dev, &info) == SPARQ_OK, "%s identify", backends[b]);
        caps[b] = info.caps;
        run_faults(dev, &logs[b], &info);
        if (info.caps == 7)
            run_faults_v3(dev, &logs[b], &info);
        else
            printf("# SKIP version-3 faults on %s: caps %d (not a version-3 build)\n", backends[b], info.caps);
        sparq_device_close(dev);
    }
    // Until both have the same features, their IDENTIFY replies differ.
    int same = caps[0] == caps[1] ? logs[0].n == logs[1].n : 1;
    for (int i = 0; same && i < logs[0].n && i < logs[1].n; i++)
        same = logs[0].status[i] == logs[1].status[i] && logs[0].seq[i] == logs[1].seq[i] &&
               logs[0].op[i] == logs[1].op[i] &&
               ((logs[0].len[i] == logs[1].len[i] && logs[0].body_crc[i] == logs[1].body_crc[i]) ||
                (caps[0] != caps[1] && logs[0].op[i] == SPARQ_OP_IDENTIFY));
    if (caps[0] != caps[1])
        printf("# SKIP: ref caps %d, sim caps %d: IDENTIFY bodies and the version-3 part not compared\n", caps[0],
               caps[1]);
    CHECK(same, "ref and sim replies identical (%d and %d replies)", logs[0].n, logs[1].n);
    no_v3();
    return check_done();
}
