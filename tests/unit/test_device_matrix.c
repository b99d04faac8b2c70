// The version-3 driver API (sparq_device.h: matrices, chain2) on every kind
// of device: the C model as a version-3 device (through the reliability layer
// and raw), as a small version-3 device whose store, tables and param memory
// run out (so the driver mixes resident and streamed), as a version-2 and a
// version-1 device (no store, no epilogue: chain2 goes through the host).
// Every result must equal the bit-exact reference
//   sparq_gemm_ref -> sparq_requant_ref -> table -> sparq_gemm_ref -> sparq_requant_ref;
// resident matrices must give the same bytes as streamed ones with fewer link
// bytes per call; a fused chain fewer than the host path; the driver must
// reload the store after a RESET and after a corrupted STORE_W; and the model
// device must count the same wire bytes, busy cycles and MACs as the C model.
// SPARQ_SEED replays a run.
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sparq_device.h"
#include "sparq_error.h"
#include "sparq_gemm.h"
#include "sparq_gemm_case.h"
#include "sparq_link.h"
#include "sparq_protocol.h"
#include "sparq_rng.h"
#include "sparq_wire.h"

static uint64_t rng;
static uint32_t rnd(void) { return (uint32_t)(sparq_rng_next(&rng) >> 32); }
static int rnd_in(int lo, int hi) { return lo + (int)(rnd() % (uint32_t)(hi - lo + 1)); }

static const int widths[3] = { 8, 4, 2 }, kepts[3] = { 4, 2, 1 };

// A chain case: W1 (hid, in), W2 (out, hid), a table, and the reference.
struct chain_case {
    struct sparq_gemm_case c1, c2;
    int t, fmt1, fmt2, has_lut;
    int8_t lut[256];
    int8_t *want; // (t, out)
};

static int make_chain(struct chain_case *k, int tmax)
{
    memset(k, 0, sizeof *k);
    k->t = rnd() % 10 == 0 ? rnd_in(tmax / 2, tmax) : rnd_in(1, 60);
    int in = rnd_in(1, 100), hid = rnd_in(1, 80), out = rnd_in(1, 40);
    k->fmt1 = rnd_in(0, 8);
    k->fmt2 = rnd_in(0, 8);
    if (sparq_gemm_case_make(&k->c1, k->t, hid, in, widths[k->fmt1 / 3], kepts[k->fmt1 % 3], &rng) ||
        sparq_gemm_case_make(&k->c2, k->t, out, hid, widths[k->fmt2 / 3], kepts[k->fmt2 % 3], &rng))
        return SPARQ_ENOMEM;
    k->has_lut = rnd() % 4 != 0;
    for (int i = 0; i < 256; i++)
        k->lut[i] = (int8_t)(rnd() & 0xFF);
    if (rnd() % 3 == 0) // a few tables repeat: the driver's table cache is hit
        for (int i = 0; i < 256; i++)
            k->lut[i] = (int8_t)(i - 128 < -100 ? -100 : i - 128);
    k->want = malloc((size_t)k->t * (size_t)out);
    return k->want ? sparq_gemm_case_chain_ref(k->want, &k->c1, &k->c2, k->has_lut ? k->lut : NULL, k->t)
                   : SPARQ_ENOMEM;
}

static void free_chain(struct chain_case *k)
{
    sparq_gemm_case_free(&k->c1);
    sparq_gemm_case_free(&k->c2);
    free(k->want);
}

// The devices. cfg NULL = the default (version 3, sim-sized).
static const struct sparq_device_config v2_cfg = {
    .rows = 16, .cols = 16, .wdepth = 1024, .xdepth = 4096, .rdepth = 256, .timeout = 4096, .lanes = 4,
};
static const struct sparq_device_config v1_cfg = {
    .rows = 4, .cols = 4, .wdepth = 256, .xdepth = 256, .rdepth = 64, .timeout = 4096, .lanes = 1,
};
// Small buffers and a small store / param memory / table count: frame and K
// chunking, matrices that do not fit (streamed), table cache eviction.
static const struct sparq_device_config small_cfg = {
    .rows = 4, .cols = 16, .wdepth = 64, .xdepth = 256, .rdepth = 32, .timeout = 4096, .lanes = 4,
    .xbanks = 3, .rbufs = 1, .wstore = 3000, .qdepth = 80, .luts = 2,
};

struct backend {
    const char *name;
    const struct sparq_device_config *cfg;
    int link, version, caps;
};

static const struct backend backends[] = {
    { "ref v3 + link", NULL, 1, 3, 7 },
    { "ref v3 raw", NULL, 0, 3, 7 },
    { "ref v3 small", &small_cfg, 1, 3, 3 },
    { "ref v2", &v2_cfg, 1, 2, 0 },
    { "ref v1", &v1_cfg, 0, 1, 0 },
};
enum { NB = sizeof backends / sizeof backends[0] };

static int open_backend(struct sparq_device **dev, const struct backend *b)
{
    struct sparq_transport tr;
    int rc = sparq_transport_ref(&tr, b->cfg);
    if (!rc && b->link)
        rc = sparq_link_wrap(&tr, tr, NULL);
    return rc ? rc : sparq_device_open_transport(dev, tr);
}

static uint64_t wire_total(struct sparq_device *dev)
{
    uint64_t o, i;
    sparq_device_wire(dev, &o, &i);
    return o + i;
}

// Runs chain2 on dev (and, with model, the same calls on the model device)
// with loaded and with streamed matrices; returns the mismatches.
static int chain_on(struct sparq_device *dev, struct sparq_device *model, struct chain_case *k, int streamed,
                    uint64_t *bytes)
{
    int out = k->c2.out, hid = k->c1.out, bad = 0;
    struct sparq_device_matrix m1 = { 0 }, m2 = { 0 }, n1 = { 0 }, n2 = { 0 };
    m1.w = &k->c1.w;
    m1.q = k->c1.qp;
    m2.w = &k->c2.w;
    m2.q = k->c2.qp;
    n1 = m1;
    n2 = m2;
    int8_t *y = malloc((size_t)k->t * (size_t)out);
    int rc = y ? SPARQ_OK : SPARQ_ENOMEM;
    if (!rc && !streamed)
        rc = sparq_device_matrix_load(dev, &m1) || sparq_device_matrix_load(dev, &m2);
    if (!rc && model && !streamed && (sparq_device_matrix_load(model, &n1) || sparq_device_matrix_load(model, &n2)))
        rc = SPARQ_EDEVICE;
    uint64_t b0 = wire_total(dev);
    if (!rc) {
        memset(y, 0x5A, (size_t)k->t * (size_t)out);
        rc = sparq_device_chain2(dev, y, out, k->c1.x, k->c1.in, &m1, k->has_lut ? k->lut : NULL, &m2, k->t);
    }
    if (bytes)
        *bytes = wire_total(dev) - b0;
    if (!rc && model)
        rc = sparq_device_chain2(model, NULL, out, NULL, k->c1.in, &n1, k->has_lut ? k->lut : NULL, &n2, k->t);
    if (rc) {
        printf("# %s chain t=%d in=%d hid=%d out=%d: %s\n", sparq_device_backend(dev), k->t, k->c1.in, hid, out,
               sparq_last_error());
        bad = 1;
    } else if (memcmp(y, k->want, (size_t)k->t * (size_t)out)) {
        for (size_t i = 0; i < (size_t)k->t * (size_t)out; i++)
            if (y[i] != k->want[i]) {
                printf("# chain t=%d in=%d hid=%d out=%d fmt %d/%d lut %d resident %d/%d: y[%zu] = %d, want %d\n",
                       k->t, k->c1.in, hid, out, k->fmt1, k->fmt2, k->has_lut, m1.resident, m2.resident, i, y[i],
                       k->want[i]);
                break;
            }
        bad = 1;
    }
    sparq_device_matrix_release(&m1);
    sparq_device_matrix_release(&m2);
    sparq_device_matrix_release(&n1);
    sparq_device_matrix_release(&n2);
    free(y);
    return bad;
}

static void run_backend(const struct backend *b, int n)
{
    struct sparq_device *dev = NULL, *model = NULL;
    int rc = open_backend(&dev, b);
    CHECK(rc == SPARQ_OK, "%s: open (%s)", b->name, rc ? sparq_last_error() : "ok");
    if (rc)
        return;
    struct sparq_device_info info;
    CHECK(sparq_device_identify(dev, &info) == SPARQ_OK && info.version == b->version && info.caps == b->caps,
          "%s: identifies as version %d, caps %d", b->name, info.version, info.caps);
    // The model device stands for the C model: same config, same link.
    CHECK(sparq_device_open_model(&model, b->cfg, b->link) == SPARQ_OK, "%s: model device", b->name);
    struct sparq_device_counters c0, m0;
    sparq_device_counters(dev, &c0);
    sparq_device_counters(model, &m0);
    uint64_t w0[2], mw0[2];
    sparq_device_wire(dev, &w0[0], &w0[1]);
    sparq_device_wire(model, &mw0[0], &mw0[1]);
    int run[9] = { 0 }, bad[9] = { 0 }, sbad = 0, fused_fewer = 0, fused_n = 0;
    for (int i = 0; i < n; i++) {
        struct chain_case k;
        if (make_chain(&k, 300)) {
            CHECK(0, "%s: chain case: %s", b->name, sparq_last_error());
            free_chain(&k);
            break;
        }
        run[k.fmt1]++;
        uint64_t fused = 0, host = 0;
        int kchunk = rnd() % 3 == 0 ? rnd_in(1, 3) : 0; // small K chunks: accumulate COMPUTE(_S) on the device
        sparq_device_set_kchunk(dev, kchunk);
        sparq_device_set_kchunk(model, kchunk);
        bad[k.fmt1] += chain_on(dev, model, &k, 0, &fused);
        sbad += chain_on(dev, model, &k, 1, NULL);
        if (b->caps & SPARQ_CAP_EPILOGUE) { // the same chain through the host: more link bytes
            sparq_device_set_chain_host(dev, 1);
            sparq_device_set_chain_host(model, 1);
            sbad += chain_on(dev, model, &k, 1, &host);
            sparq_device_set_chain_host(dev, 0);
            sparq_device_set_chain_host(model, 0);
            fused_n++;
            fused_fewer += fused < host;
        }
        free_chain(&k);
    }
    for (int f = 0; f < 9; f++)
        CHECK(bad[f] == 0, "%s: chain2 with W1 int%d %d:4: %d of %d bit-exact", b->name, widths[f / 3], kepts[f % 3],
              run[f] - bad[f], run[f]);
    CHECK(sbad == 0, "%s: chain2 on streamed matrices (and through the host): %d wrong", b->name, sbad);
    if (fused_n)
        CHECK(fused_fewer == fused_n, "%s: a fused chain moves fewer link bytes than the host path in %d of %d",
              b->name, fused_fewer, fused_n);
    uint64_t w1[2], mw1[2];
    sparq_device_wire(dev, &w1[0], &w1[1]);
    sparq_device_wire(model, &mw1[0], &mw1[1]);
    struct sparq_device_counters c1, m1;
    sparq_device_counters(dev, &c1);
    sparq_device_counters(model, &m1);
    CHECK(w1[0] - w0[0] == mw1[0] - mw0[0] && w1[1] - w0[1] == mw1[1] - mw0[1],
          "%s: wire bytes %llu out / %llu in == model device %llu / %llu", b->name,
          (unsigned long long)(w1[0] - w0[0]), (unsigned long long)(w1[1] - w0[1]),
          (unsigned long long)(mw1[0] - mw0[0]), (unsigned long long)(mw1[1] - mw0[1]));
    CHECK(c1.busy - c0.busy == m1.busy - m0.busy && c1.macs - c0.macs == m1.macs - m0.macs && c1.macs > c0.macs,
          "%s: busy %llu, MACs %llu == model device %llu / %llu", b->name, (unsigned long long)(c1.busy - c0.busy),
          (unsigned long long)(c1.macs - c0.macs), (unsigned long long)(m1.busy - m0.busy),
          (unsigned long long)(m1.macs - m0.macs));
    sparq_device_close(model);
    sparq_device_close(dev);
}

// Resident vs streamed GEMMs on one matrix: same results, fewer link bytes
// per call once loaded; a RESET and a corrupted STORE_W make the driver reload.
static void resident(const struct backend *b)
{
    struct sparq_device *dev = NULL;
    if (open_backend(&dev, b)) {
        CHECK(0, "%s: open (%s)", b->name, sparq_last_error());
        return;
    }
    int same = 0, fewer = 0, n = 0, loaded = 0;
    for (int f = 0; f < 9; f++) {
        struct sparq_gemm_case c;
        int t = rnd_in(1, 70), out = rnd_in(1, 50), in = rnd_in(1, 200);
        if (sparq_gemm_case_make(&c, t, out, in, widths[f / 3], kepts[f % 3], &rng)) {
            CHECK(0, "case: %s", sparq_last_error());
            return;
        }
        struct sparq_device_matrix m = { 0 }, s = { 0 };
        m.w = s.w = &c.w;
        m.q = s.q = c.qp;
        int rc = sparq_device_matrix_load(dev, &m);
        loaded += m.resident;
        uint64_t b0 = wire_total(dev), b1, b2, b3;
        int32_t *y = malloc(sizeof(int32_t) * (size_t)t * (size_t)out);
        int8_t *y8 = malloc((size_t)t * (size_t)out);
        int ok = !rc && y && y8;
        ok = ok && !sparq_device_gemm_m(dev, y, out, c.x, in, &m, t, 0) && !memcmp(y, c.want, sizeof(int32_t) * (size_t)t * (size_t)out);
        ok = ok && !sparq_device_gemm_q8_m(dev, y8, out, c.x, in, &m, t) && !memcmp(y8, c.want8, (size_t)t * (size_t)out);
        b1 = wire_total(dev);
        ok = ok && !sparq_device_gemm_m(dev, y, out, c.x, in, &s, t, 0) && !memcmp(y, c.want, sizeof(int32_t) * (size_t)t * (size_t)out);
        ok = ok && !sparq_device_gemm_q8_m(dev, y8, out, c.x, in, &s, t) && !memcmp(y8, c.want8, (size_t)t * (size_t)out);
        b2 = wire_total(dev);
        // The device loses the store flag: RESET, then a corrupted STORE_W
        // (raw bytes: the link would retry it). The driver must reload.
        ok = ok && !sparq_device_reset(dev);
        ok = ok && !sparq_device_gemm_q8_m(dev, y8, out, c.x, in, &m, t) && !memcmp(y8, c.want8, (size_t)t * (size_t)out);
        if (!b->link && m.resident) {
            uint8_t pkt[64] = { SPARQ_MAGIC_CMD, SPARQ_OP_STORE_W, 7, 0 };
            sparq_wr32(pkt + 4, SPARQ_ARGS_STORE_W + 16);
            sparq_wr16(pkt + 8, sparq_crc16(SPARQ_CRC16_INIT, pkt, 8));
            pkt[10] = 8; pkt[11] = 4; pkt[12] = 1; pkt[14] = 1; // int8 4:4, 1 col, 1 block at 0; CRC left 0: wrong
            int st = -1, seq, op;
            size_t len;
            uint8_t body[8];
            sparq_device_send_raw(dev, pkt, 10 + SPARQ_ARGS_STORE_W + 16 + 2);
            ok = ok && !sparq_device_recv(dev, &st, &seq, &op, body, sizeof body, &len) && st == SPARQ_ST_CRC;
            ok = ok && !sparq_device_gemm_q8_m(dev, y8, out, c.x, in, &m, t) && !memcmp(y8, c.want8, (size_t)t * (size_t)out);
        }
        b3 = wire_total(dev);
        same += ok;
        fewer += !m.resident || b1 - b0 < b2 - b1;
        (void)b3;
        n++;
        if (!ok)
            printf("# %s %s t=%d out=%d in=%d resident %d: %s\n", b->name, c.w.type->name, t, out, in, m.resident,
                   sparq_last_error());
        sparq_device_matrix_release(&m);
        free(y);
        free(y8);
        sparq_gemm_case_free(&c);
    }
    CHECK(same == n, "%s: resident and streamed GEMMs bit-exact, also after RESET / corrupted STORE_W (%d of %d)",
          b->name, same, n);
    CHECK(fewer == n, "%s: resident calls move fewer link bytes (%d of %d; %d resident)", b->name, fewer, n, loaded);
    if (b->caps & SPARQ_CAP_STORE)
        CHECK(loaded > 0, "%s: %d of %d matrices resident", b->name, loaded, n);
    sparq_device_close(dev);
}

int main(void)
{
    rng = check_seed(20261203);
#ifdef __SANITIZE_ADDRESS__
    int n = 12;
#else
    int n = 40;
#endif
    for (int b = 0; b < NB; b++) {
        run_backend(&backends[b], n);
        resident(&backends[b]);
    }
    return check_done();
}
