// Protocol version 3 on the RTL (Verilator model of sim/sim.mk's 16x16
// build: XBANKS 4, RBUFS 2, WSTORE 262144, QDEPTH 16384, LUTS 16), driven
// with raw packets and checked against the C reference (sparq_gemm_ref,
// sparq_requant, a table in C), independent of the C device model:
// IDENTIFY, the weight store (STORE_W / COMPUTE_S at unaligned addresses,
// several tiles resident at once), 4 activation banks, 2 result buffers (and
// a READ of one overlapping a job on the other), WRITE_Q / READ qaddr,
// EPILOGUE chains (two GEMMs with requant + table between them on the
// device), the busy / MAC counters against sparq_devmodel_format_cycles() and
// t + SPARQ_EPILOGUE_CYCLES, and the new argument / state errors.
// SPARQ_SEED replays; SPARQ_V3_N sets the number of random cases.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sparq_device.h"
#include "sparq_gemm.h"
#include "sparq_gemm_case.h"
#include "sparq_protocol.h"
#include "sparq_rng.h"
#include "sparq_sim.h"

static struct sparq_sim *S;
static uint8_t seqno;
static uint8_t rbody[1 << 20];
static uint32_t rlen;
static const int COLS = 16, ROWS = 16;

static void wr16(uint8_t *p, unsigned v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void wr32(uint8_t *p, uint32_t v) { wr16(p, v & 0xFFFF); wr16(p + 2, v >> 16); }
static uint64_t rd64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

// Queues one command packet (no wait).
static void push(int op, const uint8_t *body, uint32_t len)
{
    uint8_t h[10] = { SPARQ_MAGIC_CMD, (uint8_t)op, seqno++, 0 };
    wr32(h + 4, len);
    wr16(h + 8, sparq_crc16(SPARQ_CRC16_INIT, h, 8));
    uint8_t c[2];
    wr16(c, sparq_crc16(SPARQ_CRC16_INIT, body, len));
    sparq_sim_push(S, h, 10);
    if (len)
        sparq_sim_push(S, body, len);
    sparq_sim_push(S, c, 2);
}

// Waits for one reply; its body goes to rbody/rlen. Returns the status, or
// -1 if the device went quiet or the reply is malformed.
static int pull(void)
{
    uint8_t h[10], c[2];
    if (sparq_sim_run_until(S, 10, 200000) < 10)
        return -1;
    sparq_sim_pull(S, h, 10);
    rlen = (uint32_t)h[4] | (uint32_t)h[5] << 8 | (uint32_t)h[6] << 16 | (uint32_t)h[7] << 24;
    if (h[0] != SPARQ_MAGIC_REPLY || rlen > sizeof rbody ||
        sparq_sim_run_until(S, rlen + 2, 200000) < rlen + 2)
        return -1;
    sparq_sim_pull(S, rbody, rlen);
    sparq_sim_pull(S, c, 2);
    if (sparq_crc16(SPARQ_CRC16_INIT, rbody, rlen) != (uint16_t)(c[0] | c[1] << 8))
        return -1;
    return h[1];
}

static int cmd(int op, const uint8_t *body, uint32_t len)
{
    push(op, body, len);
    return pull();
}

static uint8_t *pay;  // payload scratch
static size_t paycap;
static uint8_t *grow(size_t n)
{
    if (n > paycap) {
        pay = realloc(pay, n);
        if (!pay)
            abort();
        paycap = n;
    }
    return pay;
}

// The columns o0 .. o0+ncols-1 of a packed matrix as a WRITE_W / STORE_W payload.
static size_t wpayload(const struct sparq_packed *w, int o0, int ncols, uint8_t *a, int store, uint32_t addr)
{
    size_t n = (size_t)ncols * w->row_bytes;
    uint8_t *p = grow(n + 12);
    if (store) {
        p[0] = (uint8_t)w->type->width;
        p[1] = (uint8_t)w->type->kept;
        wr16(p + 2, (unsigned)ncols);
        wr16(p + 4, (unsigned)w->blocks_per_row);
        wr16(p + 6, 0);
        wr32(p + 8, addr);
    } else {
        p[0] = a ? a[0] : 0;
        p[1] = (uint8_t)w->type->width;
        p[2] = (uint8_t)w->type->kept;
        p[3] = 0;
        wr16(p + 4, (unsigned)ncols);
        wr16(p + 6, (unsigned)w->blocks_per_row);
    }
    memcpy(p + (store ? 12 : 8), w->bytes + (size_t)o0 * w->row_bytes, n);
    return n + (store ? 12 : 8);
}

static int store_w(const struct sparq_packed *w, int o0, int ncols, uint32_t addr)
{
    size_t n = wpayload(w, o0, ncols, NULL, 1, addr);
    return cmd(SPARQ_OP_STORE_W, pay, (uint32_t)n);
}

static int write_x(int bank, const int8_t *x, int x_stride, int t, int kblocks)
{
    size_t n = 8 + (size_t)t * (size_t)kblocks * 16;
    uint8_t *p = grow(n);
    memset(p, 0, n);
    p[0] = (uint8_t)bank;
    wr16(p + 2, (unsigned)t);
    wr16(p + 4, (unsigned)kblocks);
    for (int f = 0; f < t; f++)
        memcpy(p + 8 + (size_t)f * (size_t)kblocks * 16, x + (size_t)f * (size_t)x_stride,
               (size_t)(x_stride < kblocks * 16 ? x_stride : kblocks * 16));
    return cmd(SPARQ_OP_WRITE_X, p, (uint32_t)n);
}

static int write_q(const struct sparq_requant_params *q, int ncols, int qaddr)
{
    uint8_t p[4 + 16 * 9];
    wr16(p, (unsigned)ncols);
    wr16(p + 2, (unsigned)qaddr);
    for (int c = 0; c < ncols; c++) {
        wr32(p + 4 + 9 * c, (uint32_t)q[c].bias);
        wr32(p + 8 + 9 * c, (uint32_t)q[c].mult);
        p[12 + 9 * c] = (uint8_t)q[c].shift;
    }
    return cmd(SPARQ_OP_WRITE_Q, p, (uint32_t)(4 + 9 * ncols));
}

static void compute_s_args(uint8_t *a, uint32_t addr, int xbank, int flags, const struct sparq_packed *w, int t,
                           int ncols, int xoff)
{
    wr32(a, addr);
    a[4] = (uint8_t)xbank;
    a[5] = (uint8_t)flags;
    a[6] = (uint8_t)w->type->width;
    a[7] = (uint8_t)w->type->kept;
    wr16(a + 8, (unsigned)t);
    wr16(a + 10, (unsigned)ncols);
    wr16(a + 12, (unsigned)w->blocks_per_row);
    wr16(a + 14, (unsigned)xoff);
}

static int compute_s(uint32_t addr, int xbank, int flags, const struct sparq_packed *w, int t, int ncols)
{
    uint8_t a[16];
    compute_s_args(a, addr, xbank, flags, w, t, ncols, 0);
    return cmd(SPARQ_OP_COMPUTE_S, a, 16);
}

static void read_args(uint8_t *a, int mode, int rbuf, int t, int ncols, int qaddr)
{
    a[0] = (uint8_t)mode;
    a[1] = (uint8_t)rbuf;
    wr16(a + 2, (unsigned)t);
    wr16(a + 4, (unsigned)ncols);
    wr16(a + 6, (unsigned)qaddr);
}

static int read_res(int mode, int rbuf, int t, int ncols, int qaddr)
{
    uint8_t a[8];
    read_args(a, mode, rbuf, t, ncols, qaddr);
    return cmd(SPARQ_OP_READ, a, 8);
}

static int epilogue(int rbuf, int dst, int lut, int t, int ncols, int qaddr, int dblock, int dkblocks)
{
    uint8_t a[14] = { (uint8_t)rbuf, (uint8_t)dst, (uint8_t)lut, 0 };
    wr16(a + 4, (unsigned)t);
    wr16(a + 6, (unsigned)ncols);
    wr16(a + 8, (unsigned)qaddr);
    wr16(a + 10, (unsigned)dblock);
    wr16(a + 12, (unsigned)dkblocks);
    return cmd(SPARQ_OP_EPILOGUE, a, 14);
}

static int write_lut(int lut, const int8_t *tab)
{
    uint8_t p[4 + 256] = { (uint8_t)lut };
    memcpy(p + 4, tab, 256);
    return cmd(SPARQ_OP_WRITE_LUT, p, sizeof p);
}

static void counters(uint64_t *busy, uint64_t *macs)
{
    int st = cmd(SPARQ_OP_COUNTERS, NULL, 0);
    *busy = st == 0 && rlen == 40 ? rd64(rbody + SPARQ_CNT_BUSY) : ~0ull;
    *macs = st == 0 && rlen == 40 ? rd64(rbody + SPARQ_CNT_MACS) : ~0ull;
}

static int rnd(uint64_t *rng, int n) { return (int)(sparq_rng_next(rng) % (uint64_t)n); }
static const int widths[3] = { 8, 4, 2 }, kepts[3] = { 4, 2, 1 };

static void test_identify(void)
{
    int st = cmd(SPARQ_OP_IDENTIFY, NULL, 0);
    const uint8_t *b = rbody;
    CHECK(st == 0 && rlen == SPARQ_IDENTIFY_BYTES_V3, "IDENTIFY: 42 bytes (status %d, %u bytes)", st, rlen);
    CHECK(b[0] == 3 && b[1] == 0 && b[SPARQ_ID_LANES] == 4 && b[SPARQ_ID_BANKS] == 2,
          "IDENTIFY: version 3, 4 lanes, 2 weight banks");
    CHECK(b[SPARQ_ID_XBANKS] == 4 && b[SPARQ_ID_RBUFS] == 2 &&
              (b[SPARQ_ID_WSTORE] | b[SPARQ_ID_WSTORE + 1] << 8 | b[SPARQ_ID_WSTORE + 2] << 16) == 262144 &&
              (b[SPARQ_ID_QDEPTH] | b[SPARQ_ID_QDEPTH + 1] << 8) == 16384 && b[SPARQ_ID_LUTS] == 16 &&
              b[SPARQ_ID_CAPS] == (SPARQ_CAP_STORE | SPARQ_CAP_EPILOGUE | SPARQ_CAP_RBUF2),
          "IDENTIFY: xbanks 4, rbufs 2, wstore 262144, qdepth 16384, luts 16, caps 7");
    // the one-lane build has none of the v3 features: a version-1 device, as before
    struct sparq_sim *s1 = sparq_sim_create_model(SPARQ_SIM_LANES1), *s0 = S;
    S = s1;
    st = cmd(SPARQ_OP_IDENTIFY, NULL, 0);
    CHECK(st == 0 && rlen == SPARQ_IDENTIFY_BYTES_V1 && rbody[0] == 1,
          "one-lane build: IDENTIFY version 1, 24 bytes (v3 features off)");
    st = cmd(SPARQ_OP_STORE_W, (const uint8_t *)"\x08\x04\x01\x00\x01\x00\x00\x00\x00\x00\x00\x00", 12);
    CHECK(st == SPARQ_ST_ARG, "one-lane build: STORE_W without a store is ARG (%d)", st);
    sparq_sim_destroy(s1);
    S = s0;
}

// Random GEMMs from the store: all tiles of W stored first at unaligned,
// distinct addresses, then COMPUTE_S per tile from a random bank into a random
// result buffer, READ raw and requantized (params at a random qaddr).
static void test_store(uint64_t *rng, int n)
{
    int bad_raw = 0, bad_q = 0, bad_st = 0, bad_cnt = 0;
    uint64_t busy_want = 0, macs_want = 0, busy, macs;
    cmd(SPARQ_OP_RESET, NULL, 0);
    for (int i = 0; i < n; i++) {
        int f = rnd(rng, 9), width = widths[f / 3], kept = kepts[f % 3];
        int t = 1 + rnd(rng, 40), in = 1 + rnd(rng, 100), out = 1 + rnd(rng, 40);
        struct sparq_gemm_case c;
        if (sparq_gemm_case_make(&c, t, out, in, width, kept, rng)) {
            bad_st++;
            continue;
        }
        int kb = c.w.blocks_per_row, tiles = (out + COLS - 1) / COLS, E = kb * 4 * kept;
        uint32_t addr[8];
        uint32_t a = (uint32_t)rnd(rng, 262144 - 8 * (E + 8));
        for (int j = 0; j < tiles; j++) {
            addr[j] = a;
            int nc = out - j * COLS < COLS ? out - j * COLS : COLS;
            if (store_w(&c.w, j * COLS, nc, a) != 0)
                bad_st++;
            a += (uint32_t)(E + rnd(rng, 8));
        }
        int xb = rnd(rng, 4);
        if (write_x(xb, c.x, in, t, kb) != 0)
            bad_st++;
        for (int j = 0; j < tiles; j++) {
            int nc = out - j * COLS < COLS ? out - j * COLS : COLS, rb = rnd(rng, 2), qa = rnd(rng, 16384 - 16);
            if (compute_s(addr[j], xb, rb << 1, &c.w, t, nc) != 0)
                bad_st++;
            busy_want += sparq_devmodel_format_cycles(&sparq_device_default_config, t, kb, kept, width);
            macs_want += (uint64_t)t * (uint64_t)nc * (uint64_t)E;
            if (read_res(0, rb, t, nc, 0) != 0 || rlen != (uint32_t)(t * nc * 4))
                bad_st++;
            else
                for (int r = 0; r < t; r++)
                    for (int o = 0; o < nc; o++) {
                        const uint8_t *p = rbody + 4 * (r * nc + o);
                        int32_t v = (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                                              (uint32_t)p[3] << 24);
                        bad_raw += v != c.want[r * out + j * COLS + o];
                    }
            if (write_q(c.qp + j * COLS, nc, qa) != 0 || read_res(1, rb, t, nc, qa) != 0 ||
                rlen != (uint32_t)(t * nc))
                bad_st++;
            else
                for (int r = 0; r < t; r++)
                    for (int o = 0; o < nc; o++)
                        bad_q += (int8_t)rbody[r * nc + o] != c.want8[r * out + j * COLS + o];
        }
        sparq_gemm_case_free(&c);
    }
    counters(&busy, &macs);
    bad_cnt = busy != busy_want || macs != macs_want;
    CHECK(bad_st == 0, "store: every command of %d random GEMMs OK (%d not)", n, bad_st);
    CHECK(bad_raw == 0, "store: COMPUTE_S raw results equal sparq_gemm_ref (%d wrong)", bad_raw);
    CHECK(bad_q == 0, "store: READ requant with qaddr equals sparq_requant (%d wrong)", bad_q);
    CHECK(!bad_cnt, "store: busy %llu / MACs %llu equal format_cycles %llu / %llu", (unsigned long long)busy,
          (unsigned long long)macs, (unsigned long long)busy_want, (unsigned long long)macs_want);
}

// Two GEMMs chained on the device: h = LUT(requant(x W1^T)), y = requant(h W2^T).
static void test_chain(uint64_t *rng, int n)
{
    int bad = 0, bad_st = 0, total = 0;
    uint64_t busy_want = 0, busy, macs, b0;
    cmd(SPARQ_OP_RESET, NULL, 0);
    counters(&b0, &macs);
    for (int i = 0; i < n; i++) {
        int f1 = rnd(rng, 9), f2 = rnd(rng, 9);
        int t = 1 + rnd(rng, 48), in = 1 + rnd(rng, 64), h = 1 + rnd(rng, 60), out = 1 + rnd(rng, 30);
        int lut = rnd(rng, 3) == 0 ? SPARQ_LUT_NONE : rnd(rng, 16);
        struct sparq_gemm_case c1, c2;
        if (sparq_gemm_case_make(&c1, t, h, in, widths[f1 / 3], kepts[f1 % 3], rng) ||
            sparq_gemm_case_make(&c2, t, out, h, widths[f2 / 3], kepts[f2 % 3], rng)) {
            bad_st++;
            continue;
        }
        int8_t tab[256];
        for (int k = 0; k < 256; k++)
            tab[k] = (int8_t)(sparq_rng_next(rng) & 0xFF);
        if (lut != SPARQ_LUT_NONE && write_lut(lut, tab) != 0)
            bad_st++;
        // reference: q1 -> table -> second GEMM -> q2
        int dkb = (h + 15) / 16, kb1 = c1.w.blocks_per_row;
        int8_t *hx = calloc((size_t)t * (size_t)dkb * 16, 1);
        int32_t *y2 = malloc(sizeof(int32_t) * (size_t)t * (size_t)out);
        if (!hx || !y2)
            abort();
        for (int r = 0; r < t; r++)
            for (int o = 0; o < h; o++) {
                const struct sparq_requant_params *q = &c1.qp[o];
                int8_t v = sparq_requant(c1.want[r * h + o], q->bias, q->mult, q->shift);
                hx[r * dkb * 16 + o] = lut == SPARQ_LUT_NONE ? v : tab[v + 128];
            }
        sparq_gemm_ref(y2, out, hx, dkb * 16, &c2.w, t, 0);
        // device: params of W1 at q1, of W2 at q2; W1 tiles streamed (WRITE_W), W2 from the store
        int q1 = rnd(rng, 8000), q2 = 8000 + rnd(rng, 8000), xa = rnd(rng, 4), xb = (xa + 1 + rnd(rng, 3)) % 4;
        for (int j = 0; j * COLS < h; j++) {
            int nc = h - j * COLS < COLS ? h - j * COLS : COLS;
            bad_st += write_q(c1.qp + j * COLS, nc, q1 + j * COLS) != 0;
        }
        for (int j = 0; j * COLS < out; j++) {
            int nc = out - j * COLS < COLS ? out - j * COLS : COLS;
            bad_st += write_q(c2.qp + j * COLS, nc, q2 + j * COLS) != 0;
            bad_st += store_w(&c2.w, j * COLS, nc, (uint32_t)(1000 * j + 7)) != 0;
        }
        bad_st += write_x(xa, c1.x, in, t, kb1) != 0;
        for (int j = 0; j * COLS < h; j++) {
            int nc = h - j * COLS < COLS ? h - j * COLS : COLS, rb = j & 1;
            uint8_t a[14];
            size_t np = wpayload(&c1.w, j * COLS, nc, (uint8_t[]){ (uint8_t)(j & 1) }, 0, 0);
            bad_st += cmd(SPARQ_OP_WRITE_W, pay, (uint32_t)np) != 0;
            a[0] = (uint8_t)(j & 1);
            a[1] = (uint8_t)xa;
            a[2] = (uint8_t)(rb << 1);
            a[3] = (uint8_t)c1.w.type->width;
            a[4] = (uint8_t)c1.w.type->kept;
            a[5] = 0;
            wr16(a + 6, (unsigned)t);
            wr16(a + 8, (unsigned)nc);
            wr16(a + 10, (unsigned)kb1);
            wr16(a + 12, 0);
            bad_st += cmd(SPARQ_OP_COMPUTE, a, 14) != 0;
            busy_want += sparq_devmodel_format_cycles(&sparq_device_default_config, t, kb1, c1.w.type->kept,
                                                      c1.w.type->width);
            bad_st += epilogue(rb, xb, lut, t, nc, q1 + j * COLS, j, dkb) != 0;
            busy_want += (uint64_t)t + SPARQ_EPILOGUE_CYCLES;
        }
        for (int j = 0; j * COLS < out; j++) {
            int nc = out - j * COLS < COLS ? out - j * COLS : COLS, rb = rnd(rng, 2);
            bad_st += compute_s((uint32_t)(1000 * j + 7), xb, rb << 1, &c2.w, t, nc) != 0;
            busy_want += sparq_devmodel_format_cycles(&sparq_device_default_config, t, dkb, c2.w.type->kept,
                                                      c2.w.type->width);
            if (read_res(1, rb, t, nc, q2 + j * COLS) != 0 || rlen != (uint32_t)(t * nc)) {
                bad_st++;
                continue;
            }
            for (int r = 0; r < t; r++)
                for (int o = 0; o < nc; o++) {
                    const struct sparq_requant_params *q = &c2.qp[j * COLS + o];
                    int8_t w = sparq_requant(y2[r * out + j * COLS + o], q->bias, q->mult, q->shift);
                    bad += (int8_t)rbody[r * nc + o] != w;
                    total++;
                }
        }
        free(hx);
        free(y2);
        sparq_gemm_case_free(&c1);
        sparq_gemm_case_free(&c2);
    }
    counters(&busy, &macs);
    CHECK(bad_st == 0, "chain: every command of %d chains OK (%d not)", n, bad_st);
    CHECK(bad == 0 && total > 0, "chain: device EPILOGUE chains equal the C chain (%d of %d wrong)", bad, total);
    CHECK(busy == busy_want, "chain: busy %llu = jobs' format_cycles + (t + %d) per EPILOGUE = %llu",
          (unsigned long long)busy, SPARQ_EPILOGUE_CYCLES, (unsigned long long)busy_want);
}

// A READ of result buffer 0 streams while a job writes buffer 1 (and waits for a
// job that writes the buffer it reads): same bytes, fewer cycles.
static void test_overlap(uint64_t *rng)
{
    struct sparq_gemm_case c;
    int t = 256, in = 576, out = 16;
    if (sparq_gemm_case_make(&c, t, out, in, 8, 4, rng)) {
        CHECK(0, "overlap: case");
        return;
    }
    uint64_t cyc[2];
    int ok = 1;
    cmd(SPARQ_OP_RESET, NULL, 0);
    ok &= store_w(&c.w, 0, out, 0) == 0 && write_x(0, c.x, in, t, c.w.blocks_per_row) == 0;
    for (int other = 0; other < 2; other++) {
        uint8_t a[16], r[8];
        ok &= compute_s(0, 0, 0, &c.w, t, out) == 0;  // buffer 0 holds x W^T
        uint64_t c0 = sparq_sim_cycles(S);
        compute_s_args(a, 0, 0, other ? 2 : 0, &c.w, t, out, 0);
        read_args(r, 0, 0, t, out, 0);
        push(SPARQ_OP_COMPUTE_S, a, 16);
        push(SPARQ_OP_READ, r, 8);
        ok &= pull() == 0;
        ok &= pull() == 0 && rlen == (uint32_t)(t * out * 4);
        cyc[other] = sparq_sim_cycles(S) - c0;
        for (int k = 0; ok && k < t * out; k++)
            ok &= (int32_t)((uint32_t)rbody[4 * k] | (uint32_t)rbody[4 * k + 1] << 8 |
                            (uint32_t)rbody[4 * k + 2] << 16 | (uint32_t)rbody[4 * k + 3] << 24) == c.want[k];
    }
    CHECK(ok, "overlap: COMPUTE_S then READ of buffer 0, job on buffer 0 and on buffer 1: results exact");
    uint64_t job = sparq_devmodel_format_cycles(&sparq_device_default_config, t, c.w.blocks_per_row, 4, 8);
    CHECK(cyc[1] + job / 2 < cyc[0], "overlap: COMPUTE_S + READ of buffer 0 took %llu cycles with the job on "
          "buffer 1, %llu with it on buffer 0 (the job: %llu)", (unsigned long long)cyc[1],
          (unsigned long long)cyc[0], (unsigned long long)job);
    sparq_gemm_case_free(&c);
}

static void test_errors(uint64_t *rng)
{
    struct sparq_gemm_case c;
    if (sparq_gemm_case_make(&c, 20, 16, 32, 4, 2, rng)) {
        CHECK(0, "errors: case");
        return;
    }
    int kb = c.w.blocks_per_row, E = kb * 4 * 2;
    cmd(SPARQ_OP_RESET, NULL, 0);
    write_x(3, c.x, 32, 20, kb);
    CHECK(compute_s(0, 3, 0, &c.w, 20, 16) == SPARQ_ST_STATE, "COMPUTE_S before any STORE_W: STATE");
    CHECK(store_w(&c.w, 0, 16, (uint32_t)(262144 - E + 1)) == SPARQ_ST_ARG, "STORE_W past the store: ARG");
    CHECK(store_w(&c.w, 0, 16, (uint32_t)(262144 - E)) == 0, "STORE_W ending at the last entry: OK");
    CHECK(compute_s((uint32_t)(262144 - E), 3, 0, &c.w, 20, 16) == 0, "COMPUTE_S at the last entries: OK");
    CHECK(compute_s((uint32_t)(262144 - E + 4), 3, 0, &c.w, 20, 16) == SPARQ_ST_ARG, "COMPUTE_S past the store: ARG");
    CHECK(compute_s(0, 4, 0, &c.w, 20, 16) == SPARQ_ST_ARG, "COMPUTE_S xbank 4: ARG");
    CHECK(write_x(4, c.x, 32, 20, kb) == SPARQ_ST_ARG, "WRITE_X bank 4: ARG");
    CHECK(read_res(0, 2, 20, 16, 0) == SPARQ_ST_ARG, "READ rbuf 2: ARG");
    CHECK(read_res(0, 1, 20, 16, 0) == SPARQ_ST_STATE, "READ of the empty buffer 1: STATE");
    CHECK(read_res(1, 0, 20, 16, 16380) == SPARQ_ST_ARG, "READ requant qaddr + ncols > QDEPTH: ARG");
    CHECK(read_res(1, 0, 20, 16, 0) == SPARQ_ST_STATE, "READ requant without params: STATE");
    CHECK(write_q(c.qp, 16, 16369) == SPARQ_ST_ARG, "WRITE_Q qaddr + ncols > QDEPTH: ARG");
    CHECK(write_q(c.qp, 16, 16368) == 0, "WRITE_Q of the last 16 entries: OK");
    int8_t tab[256] = { 0 };
    CHECK(write_lut(16, tab) == SPARQ_ST_ARG, "WRITE_LUT table 16: ARG");
    CHECK(epilogue(0, 1, 5, 20, 16, 16368, 0, 1) == SPARQ_ST_STATE, "EPILOGUE with an unloaded table: STATE");
    CHECK(epilogue(0, 1, SPARQ_LUT_NONE, 20, 16, 16368, 1, 2) == SPARQ_ST_STATE,
          "EPILOGUE block 1 of a bank not started: STATE");
    CHECK(epilogue(0, 1, SPARQ_LUT_NONE, 21, 16, 16368, 0, 2) == SPARQ_ST_STATE, "EPILOGUE t != results' t: STATE");
    CHECK(epilogue(0, 1, SPARQ_LUT_NONE, 20, 17, 16368, 0, 2) == SPARQ_ST_ARG, "EPILOGUE ncols 17: ARG");
    CHECK(epilogue(0, 1, SPARQ_LUT_NONE, 20, 16, 16369, 0, 2) == SPARQ_ST_ARG, "EPILOGUE qaddr + ncols > QDEPTH: ARG");
    CHECK(epilogue(0, 1, SPARQ_LUT_NONE, 20, 16, 16368, 2, 2) == SPARQ_ST_ARG, "EPILOGUE dblock >= dkblocks: ARG");
    CHECK(epilogue(0, 4, SPARQ_LUT_NONE, 20, 16, 16368, 0, 2) == SPARQ_ST_ARG, "EPILOGUE dst 4: ARG");
    CHECK(epilogue(0, 1, SPARQ_LUT_NONE, 20, 16, 16368, 0, 2) == 0, "EPILOGUE block 0 of 2: OK");
    uint8_t a[16];
    compute_s_args(a, 0, 1, 0, &c.w, 20, 16, 0);
    wr16(a + 12, 2);  // the bank's 2 blocks; only block 0 is written
    CHECK(cmd(SPARQ_OP_COMPUTE_S, a, 16) == SPARQ_ST_STATE, "COMPUTE_S from a half-built bank: STATE");
    CHECK(epilogue(0, 1, SPARQ_LUT_NONE, 20, 16, 16368, 0, 2) == 0 &&
              epilogue(0, 1, SPARQ_LUT_NONE, 20, 16, 16368, 1, 2) == 0,
          "EPILOGUE blocks 0, 1 of 2: OK");
    CHECK(cmd(SPARQ_OP_COMPUTE_S, a, 16) == 0, "COMPUTE_S from the bank the epilogues built: OK");
    CHECK(epilogue(0, 1, SPARQ_LUT_NONE, 20, 16, 16368, 1, 2) == SPARQ_ST_STATE, "EPILOGUE block 1 again: STATE");
    // a STORE_W of the wrong length clears the store
    uint8_t sw[12] = { 8, 4 };
    wr16(sw + 2, 1);
    wr16(sw + 4, 1);
    CHECK(cmd(SPARQ_OP_STORE_W, sw, 12) == SPARQ_ST_LENGTH, "STORE_W without its payload: LENGTH");
    CHECK(compute_s((uint32_t)(262144 - E), 3, 0, &c.w, 20, 16) == SPARQ_ST_STATE,
          "COMPUTE_S after a failed STORE_W: STATE");
    CHECK(store_w(&c.w, 0, 16, 5) == 0 && compute_s(5, 3, 0, &c.w, 20, 16) == 0, "STORE_W again: COMPUTE_S OK");
    CHECK(cmd(SPARQ_OP_RESET, NULL, 0) == 0 && compute_s(5, 3, 0, &c.w, 20, 16) == SPARQ_ST_STATE,
          "RESET clears the store flag (and bank 3)");
    sparq_gemm_case_free(&c);
}

int main(void)
{
    uint64_t rng = check_seed(0x5eed3), n = 12;
    const char *e = getenv("SPARQ_V3_N");
    if (e)
        n = strtoull(e, NULL, 0);
    (void)ROWS;
    S = sparq_sim_create();
    CHECK(S != NULL, "sim model");
    if (!S)
        return check_done();
    test_identify();
    test_errors(&rng);
    test_store(&rng, (int)n);
    test_chain(&rng, (int)n);
    test_overlap(&rng);
    sparq_sim_destroy(S);
    free(pay);
    return check_done();
}
