// Protocol faults on both backends: bad header CRC, bad body CRC, truncated
// command, unknown opcode, wrong lengths, out-of-range shapes and formats,
// repeated and unsorted weight positions, bad requant parameters, commands
// on buffers that are not loaded. Each must get its documented status, the
// device must keep computing correct GEMMs afterwards, and the replies of
// the C model and the RTL must be identical.
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sparq_backend.h"
#include "sparq_device.h"
#include "sparq_error.h"
#include "sparq_gemm.h"
#include "sparq_protocol.h"
#include "sparq_wire.h"

#define MAX_STEPS 64

struct reply_log {
    int n;
    int status[MAX_STEPS], seq[MAX_STEPS], op[MAX_STEPS];
    size_t len[MAX_STEPS];
    uint16_t body_crc[MAX_STEPS];
};


// Frames a command into buf; returns its size. len_delta changes the length
// field (header CRC still valid) without changing the bytes sent.
static size_t frame(uint8_t *buf, int op, int seq, const uint8_t *args, size_t nargs, const uint8_t *pay,
                    size_t npay, int len_delta)
{
    buf[0] = SPARQ_MAGIC_CMD;
    buf[1] = (uint8_t)op;
    buf[2] = (uint8_t)seq;
    buf[3] = 0;
    sparq_wr32(buf + 4, (uint32_t)((int)(nargs + npay) + len_delta));
    sparq_wr16(buf + 8, sparq_crc16(SPARQ_CRC16_INIT, buf, 8));
    if (nargs)
        memcpy(buf + 10, args, nargs);
    if (npay)
        memcpy(buf + 10 + nargs, pay, npay);
    uint16_t c = sparq_crc16(SPARQ_CRC16_INIT, buf + 10, nargs + npay);
    sparq_wr16(buf + 10 + nargs + npay, c);
    return 12 + nargs + npay;
}

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

static int expect(struct sparq_device *dev, struct reply_log *log, const uint8_t *bytes, size_t n, int idle,
                  int want_status, int want_seq, const char *what)
{
    uint8_t body[64];
    int st = -1, seq = -1, op = -1;
    size_t len = 0;
    sparq_device_send_raw(dev, bytes, n);
    if (idle)
        sparq_device_idle(dev);
    int rc = sparq_device_recv(dev, &st, &seq, &op, body, sizeof body, &len);
    if (log->n < MAX_STEPS) {
        log->status[log->n] = st;
        log->seq[log->n] = seq;
        log->op[log->n] = op;
        log->len[log->n] = len;
        log->body_crc[log->n] = sparq_crc16(SPARQ_CRC16_INIT, body, len);
        log->n++;
    }
    int ok = rc == SPARQ_OK && st == want_status && seq == want_seq;
    CHECK(ok, "%s: %s -> status %s (want %s), seq %d", sparq_device_backend(dev), what,
          rc ? sparq_last_error() : sparq_status_name(st), sparq_status_name(want_status), seq);
    return ok;
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

    // Positions: repeated (1,1) and unsorted (3,0) in an int8 2:4 block.
    for (int k = 0; k < 2; k++) {
        memset(args, 0, sizeof args);
        args[0] = 1; args[1] = 8; args[2] = 2; sparq_wr16(args + 4, 1); sparq_wr16(args + 6, 1);
        memset(pay, 1, 10);
        // group 0 positions in bits 0..3 of the first position byte
        pay[8] = k == 0 ? (uint8_t)(1 | 1 << 2 | 0x10 | 3 << 6) : (uint8_t)(3 | 0 << 2 | 0x10 | 3 << 6);
        pay[9] = 0x1 | 3 << 2 | 0x1 << 4 | 3 << 6; // groups 2, 3 fine
        n = frame(buf, SPARQ_OP_WRITE_W, seq, args, SPARQ_ARGS_WRITE_W, pay, 10, 0);
        expect(dev, log, buf, n, 0, SPARQ_ST_POSITIONS, seq++, k ? "unsorted positions" : "repeated positions");
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

int main(void)
{
    const char *backends[2] = { "ref", "sim" };
    struct reply_log logs[2];
    memset(logs, 0, sizeof logs);
    for (int b = 0; b < 2; b++) {
        struct sparq_device *dev;
        int rc = sparq_device_open_raw(&dev, backends[b]);
        CHECK(rc == SPARQ_OK, "open %s (%s)", backends[b], rc ? sparq_last_error() : "ok");
        if (rc)
            return check_done();
        struct sparq_device_info info;
        CHECK(sparq_device_identify(dev, &info) == SPARQ_OK, "%s identify", backends[b]);
        run_faults(dev, &logs[b], &info);
        sparq_device_close(dev);
    }
    int same = logs[0].n == logs[1].n;
    for (int i = 0; same && i < logs[0].n; i++)
        same = logs[0].status[i] == logs[1].status[i] && logs[0].seq[i] == logs[1].seq[i] &&
               logs[0].op[i] == logs[1].op[i] && logs[0].len[i] == logs[1].len[i] &&
               logs[0].body_crc[i] == logs[1].body_crc[i];
    CHECK(same, "ref and sim replies identical (%d replies)", logs[0].n);
    return check_done();
}
