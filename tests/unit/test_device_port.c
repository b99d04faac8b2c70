// The word-wide host port (sparq_top PORT_BYTES = 4 in the simulated build,
// docs/accelerator.md "Host port"): IDENTIFY reports it on ref and sim; a
// WRITE_X payload truncated at every byte offset within a word answers
// TRUNCATED and leaves no stale byte behind; a payload byte corrupted in each
// of the four lanes fails the body CRC; the same replies from ref and sim;
// GEMMs (int32 and int8 read-out, ragged column counts) bit-exact with the
// reference; and the bytes do flow at the port's width: a 64 KB WRITE_X, and
// link-bound GEMMs with int32 and int8 results, move more than 3, 2, 2
// bytes a simulated cycle (a byte port needs a cycle per byte). Everything runs twice on sim, the second time
// with host words of random length (SPARQ_SIM_PARTIAL, seed printed).
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

static void fill_matrix(float *wf, int out, int in, int salt)
{
    for (int i = 0; i < out * in; i++)
        wf[i] = (float)((i * 37 + 11 + salt) % 23) - 11.0f;
}

// A GEMM of t x in by out x in, int32 and int8 read-out, against the reference.
static void gemm_checks(struct sparq_device *dev, int t, int out, int in, int width, int kept)
{
    float *wf = malloc((size_t)out * in * sizeof *wf);
    int8_t *x = malloc((size_t)t * in), *y8 = malloc((size_t)t * out), *w8 = malloc((size_t)t * out);
    int32_t *y = malloc((size_t)t * out * sizeof *y), *want = malloc((size_t)t * out * sizeof *want);
    struct sparq_requant_params *q = malloc((size_t)out * sizeof *q);
    fill_matrix(wf, out, in, t);
    for (int i = 0; i < t * in; i++)
        x[i] = (int8_t)((i * 53 + 7 + out) % 256 - 128);
    for (int o = 0; o < out; o++) {
        q[o].bias = o * 97 - 700;
        q[o].mult = 1234567 + o * 7919;
        q[o].shift = (int8_t)(20 + o % 5);
    }
    struct sparq_packed w;
    int rc = sparq_pack(&w, wf, NULL, width, kept, out, in, NULL);
    CHECK(rc == SPARQ_OK, "pack %dx%d int%d %d:4", out, in, width, kept);
    if (!rc) {
        sparq_gemm_ref(want, out, x, in, &w, t, 0);
        sparq_requant_ref(w8, out, want, out, q, t, out);
        rc = sparq_device_gemm(dev, y, out, x, in, &w, t, 0);
        CHECK(rc == SPARQ_OK && !memcmp(y, want, (size_t)t * out * sizeof *y), "%s: int32 gemm t %d out %d in %d",
              sparq_device_backend(dev), t, out, in);
        rc = sparq_device_gemm_q8(dev, y8, out, x, in, &w, t, q);
        CHECK(rc == SPARQ_OK && !memcmp(y8, w8, (size_t)t * out), "%s: int8 gemm t %d out %d in %d",
              sparq_device_backend(dev), t, out, in);
        sparq_packed_free(&w);
    }
    free(wf);
    free(x);
    free(y8);
    free(w8);
    free(y);
    free(want);
    free(q);
}

static void run(struct sparq_device *dev, struct reply_log *log)
{
    uint8_t buf[512], args[16], pay[256];
    int seq = 10;
    size_t n;
    // A WRITE_X of 4 frames x 1 block (64 bytes) cut after 1..8 payload bytes:
    // every offset within a word, then a COMPUTE on that bank (STATE) and an
    // IDENTIFY (nothing of the cut packet left in the port's buffer).
    for (int cut = 1; cut <= 8; cut++) {
        memset(args, 0, sizeof args);
        args[0] = 1;
        sparq_wr16(args + 2, 4);
        sparq_wr16(args + 4, 1);
        for (int i = 0; i < 64; i++)
            pay[i] = (uint8_t)(0xA5 ^ (i * 29)); // 0xA5 (the command magic) among the bytes
        n = frame(buf, SPARQ_OP_WRITE_X, seq, args, SPARQ_ARGS_WRITE_X, pay, 64, 0);
        char what[80];
        snprintf(what, sizeof what, "write-x cut after %d payload bytes", cut);
        expect(dev, log, buf, 10 + SPARQ_ARGS_WRITE_X + (size_t)cut, 1, SPARQ_ST_TRUNCATED, seq++, what);
        memset(args, 0, sizeof args);
        args[0] = 1;
        args[1] = 1;
        args[3] = 8;
        args[4] = 2;
        sparq_wr16(args + 6, 4);
        sparq_wr16(args + 8, 1);
        sparq_wr16(args + 10, 1);
        n = frame(buf, SPARQ_OP_COMPUTE, seq, args, SPARQ_ARGS_COMPUTE, NULL, 0, 0);
        expect(dev, log, buf, n, 0, SPARQ_ST_STATE, seq++, "compute on the cut bank");
        n = frame(buf, SPARQ_OP_IDENTIFY, seq, NULL, 0, NULL, 0, 0);
        expect(dev, log, buf, n, 0, SPARQ_ST_OK, seq++, "identify after the cut");
    }
    // One corrupted payload byte in each lane of a word: the body CRC over
    // four bytes a cycle must see it.
    for (int lane = 0; lane < 4; lane++) {
        memset(args, 0, sizeof args);
        args[0] = 1;
        sparq_wr16(args + 2, 4);
        sparq_wr16(args + 4, 1);
        for (int i = 0; i < 64; i++)
            pay[i] = (uint8_t)(i * 13 + 1);
        n = frame(buf, SPARQ_OP_WRITE_X, seq, args, SPARQ_ARGS_WRITE_X, pay, 64, 0);
        buf[10 + SPARQ_ARGS_WRITE_X + 32 + lane] ^= 0x10;
        char what[80];
        snprintf(what, sizeof what, "write-x payload byte %d corrupted", 32 + lane);
        expect(dev, log, buf, n, 0, SPARQ_ST_CRC, seq++, what);
    }
    // The same packet intact, then a compute on it (CRC over the wide path right).
    n = frame(buf, SPARQ_OP_WRITE_X, seq, args, SPARQ_ARGS_WRITE_X, pay, 64, 0);
    expect(dev, log, buf, n, 0, SPARQ_ST_OK, seq++, "write-x intact");
    // Ragged shapes: column counts that are no multiple of 4 (a word of an
    // int8 READ spans the end of a frame), t no multiple of the tile.
    gemm_checks(dev, 5, 19, 37, 8, 2);
    gemm_checks(dev, 17, 3, 64, 4, 4);
    gemm_checks(dev, 33, 46, 150, 2, 1);
}

// Cycles and wire bytes of one step on dev.
struct span {
    uint64_t c, o, i;
};
static struct span span_now(struct sparq_device *dev)
{
    struct span s = { sparq_device_cycles(dev), 0, 0 };
    sparq_device_wire(dev, &s.o, &s.i);
    return s;
}
static void span_check(struct sparq_device *dev, struct span s0, double min_rate, const char *what)
{
    struct span s1 = span_now(dev);
    uint64_t c = s1.c - s0.c;
    double bytes = (double)(s1.o - s0.o + s1.i - s0.i);
    printf("# %s: %s: %.0f wire bytes in %llu cycles (%.2f bytes a cycle)\n", sparq_device_backend(dev), what, bytes,
           (unsigned long long)c, c ? bytes / (double)c : 0);
    CHECK(c > 0 && bytes / (double)c > min_rate, "%s: %s moves > %.1f bytes a cycle", sparq_device_backend(dev), what,
          min_rate);
}

// The bytes flow at the port's width: simulated cycles of link-bound steps
// (a byte port needs at least one cycle per byte, so each rate below is
// out of its reach): a 64 KB WRITE_X alone, and GEMMs with K = 16 (almost
// no compute) of 256 frames with int32 and with int8 results.
static void throughput(struct sparq_device *dev, int partial)
{
    struct reply_log log = { 0 };
    enum { T = 256, OUT = 16, IN = 16, KB = 16 };
    static uint8_t buf[T * KB * 16 + 64], pay[T * KB * 16];
    uint8_t args[16];
    memset(args, 0, sizeof args);
    sparq_wr16(args + 2, T);
    sparq_wr16(args + 4, KB);
    for (size_t i = 0; i < sizeof pay; i++)
        pay[i] = (uint8_t)(i * 131 + 7);
    size_t n = frame(buf, SPARQ_OP_WRITE_X, 77, args, SPARQ_ARGS_WRITE_X, pay, sizeof pay, 0);
    struct span s0 = span_now(dev);
    expect(dev, &log, buf, n, 0, SPARQ_ST_OK, 77, "write-x of 64 KB");
    span_check(dev, s0, partial ? 2.0 : 3.0, "write-x of 64 KB"); // (partial: 2.5 bytes a word on average)

    float wf[OUT * IN];
    static int8_t x[T * IN], y8[T * OUT];
    static int32_t y[T * OUT];
    struct sparq_requant_params q[OUT];
    fill_matrix(wf, OUT, IN, 3);
    for (int i = 0; i < T * IN; i++)
        x[i] = (int8_t)(i * 7);
    for (int o = 0; o < OUT; o++)
        q[o] = (struct sparq_requant_params){ .bias = o, .mult = 1 << 30, .shift = 36 };
    struct sparq_packed w;
    if (sparq_pack(&w, wf, NULL, 8, 4, OUT, IN, NULL))
        return;
    s0 = span_now(dev);
    CHECK(sparq_device_gemm(dev, y, OUT, x, IN, &w, T, 0) == SPARQ_OK, "int32 gemm");
    span_check(dev, s0, 2.0, "link-bound int32 gemm");
    s0 = span_now(dev);
    CHECK(sparq_device_gemm_q8(dev, y8, OUT, x, IN, &w, T, q) == SPARQ_OK, "int8 gemm");
    span_check(dev, s0, 2.0, "link-bound int8 gemm");
    sparq_packed_free(&w);
}

int main(void)
{
    struct reply_log logs[3];
    memset(logs, 0, sizeof logs);
    const char *backends[3] = { "ref", "sim", "sim" };
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)check_seed(20261204));
    for (int b = 0; b < 3; b++) {
        if (b == 2)
            setenv("SPARQ_SIM_PARTIAL", seed, 1); // host words of random length, the seed printed by the sim
        struct sparq_device *dev = open_raw_checked(backends[b]);
        if (!dev)
            return check_done();
        struct sparq_device_info info;
        int rc = sparq_device_identify(dev, &info);
        CHECK(rc == SPARQ_OK && info.port_bytes == 4, "%s: IDENTIFY reports a 4-byte host port (%d)", backends[b],
              info.port_bytes);
        run(dev, &logs[b]);
        if (b > 0)
            throughput(dev, b == 2);
        sparq_device_close(dev);
    }
    unsetenv("SPARQ_SIM_PARTIAL");
    for (int b = 1; b < 3; b++) {
        int same = logs[0].n == logs[b].n;
        for (int i = 0; same && i < logs[0].n; i++)
            same = logs[0].status[i] == logs[b].status[i] && logs[0].seq[i] == logs[b].seq[i] &&
                   logs[0].len[i] == logs[b].len[i] && logs[0].body_crc[i] == logs[b].body_crc[i];
        CHECK(same, "ref and sim%s replies identical (%d and %d)", b == 2 ? " (partial words)" : "", logs[0].n,
              logs[b].n);
    }
    return check_done();
}
