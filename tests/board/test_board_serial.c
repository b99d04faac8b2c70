// The board design's bit-serial array (RTL LANES = 0, sparq_pe_serial)
// against the C model: the same random GEMMs in all 9 weight formats (int8,
// int4, int2 x dense, 2:4, 1:4) on the Verilated board core (FX2 model, no
// faults) and on the model device of the same configuration. Results must
// equal sparq_gemm_ref and the busy and MAC counters the model's
// (sparq_devmodel_format_cycles: a kept weight takes `width` cycles).
#include <string.h>

#include "../unit/check.h"
#include "board_sim.h"
#include "board_transport.h"
#include "sparq_device.h"
#include "sparq_error.h"
#include "sparq_gemm.h"
#include "sparq_rng.h"

static uint64_t rng;
static uint32_t rnd(void) { return (uint32_t)(sparq_rng_next(&rng) >> 32); }

struct tally {
    int exact, busy_eq, macs_eq, runs;
};

// One GEMM of `bits`-bit weights with `kept` of 4 on both devices.
static void gemm(struct sparq_device *dev, struct sparq_device *ref, int bits, int kept, struct tally *t)
{
    int T = 1 + (int)(rnd() % 20), out = 1 + (int)(rnd() % 9), in = 1 + (int)(rnd() % 60);
    int acc = (int)(rnd() % 2), kchunk = 1 + (int)(rnd() % 2), qmax = (1 << (bits - 1)) - 1;
    float wf[9 * 60];
    int8_t x[20 * 60];
    int32_t y[20 * 9], ym[20 * 9], want[20 * 9];
    for (int i = 0; i < out * in; i++) // every code, the most negative (the sign bit alone) included
        wf[i] = (float)((int)(rnd() % (unsigned)(2 * qmax + 2)) - qmax - 1);
    for (int i = 0; i < T * in; i++)
        x[i] = (int8_t)rnd();
    for (int i = 0; i < T * out; i++)
        y[i] = ym[i] = want[i] = (int32_t)rnd();
    struct sparq_packed w;
    memset(&w, 0, sizeof w);
    struct sparq_pack_options po = { SPARQ_GRID_FULL, NULL };
    t->runs++;
    if (sparq_pack(&w, wf, NULL, bits, kept, out, in, &po))
        return;
    sparq_gemm_ref(want, out, x, in, &w, T, acc);
    struct sparq_device_counters b0, b1, m0, m1;
    sparq_device_set_kchunk(dev, kchunk);
    sparq_device_set_kchunk(ref, kchunk);
    int rc = sparq_device_counters(dev, &b0) || sparq_device_gemm(dev, y, out, x, in, &w, T, acc) ||
             sparq_device_counters(dev, &b1);
    int rm = sparq_device_counters(ref, &m0) || sparq_device_gemm(ref, ym, out, x, in, &w, T, acc) ||
             sparq_device_counters(ref, &m1);
    sparq_packed_free(&w);
    if (rc || rm) {
        printf("# int%d %d:4 T %d out %d in %d: device error %s\n", bits, kept, T, out, in, sparq_last_error());
        return;
    }
    int ok = !memcmp(y, want, sizeof(int32_t) * (size_t)T * (size_t)out);
    uint64_t bb = b1.busy - b0.busy, mb = m1.busy - m0.busy;
    t->exact += ok;
    t->busy_eq += bb == mb;
    t->macs_eq += b1.macs - b0.macs == m1.macs - m0.macs;
    if (!ok || bb != mb)
        printf("# int%d %d:4 T %d out %d in %d acc %d kchunk %d: %s, busy %llu (C model %llu)\n", bits, kept, T, out,
               in, acc, kchunk, ok ? "exact" : "WRONG", (unsigned long long)bb, (unsigned long long)mb);
}

int main(void)
{
    rng = check_seed(1717) * 2654435761u + 1;
    struct bsim *b = bsim_create();
    struct sparq_device *dev = NULL, *ref = NULL;
    int rc = sparq_device_open_transport(&dev, (struct sparq_transport){ &board_ops, b });
    CHECK(rc == SPARQ_OK, "board core (LANES = 0) opens: %s", rc ? sparq_last_error() : "ok");
    if (rc)
        return check_done();
    // the C model of the configuration the board core says it is (board.mk's BSIM_PARAMS)
    struct sparq_device_info info;
    rc = sparq_device_identify(dev, &info);
    CHECK(rc == SPARQ_OK && info.version == 2 && sparq_device_lanes(dev) == SPARQ_LANES_SERIAL,
          "IDENTIFY: %dx%d, version %d, lanes %d (bit-serial: version 2, lanes field 0)", info.rows, info.cols,
          info.version, sparq_device_lanes(dev));
    if (rc)
        return check_done();
    struct sparq_device_config cfg;
    sparq_device_info_config(&info, SPARQ_LANES_SERIAL, &cfg);
    rc = sparq_device_open_model(&ref, &cfg, 0);
    CHECK(rc == SPARQ_OK, "C model of the bit-serial board opens: %s", rc ? sparq_last_error() : "ok");
    if (rc)
        return check_done();

    static const int bits[3] = { 8, 4, 2 }, kept[3] = { 4, 2, 1 };
    for (int f = 0; f < 9; f++) {
        struct tally t = { 0, 0, 0, 0 };
        for (int i = 0; i < 12; i++)
            gemm(dev, ref, bits[f / 3], kept[f % 3], &t);
        CHECK(t.exact == t.runs && t.busy_eq == t.runs && t.macs_eq == t.runs,
              "int%d %d:4: %d random GEMMs exact (%d), busy counter == C model (%d), MACs == C model (%d)", bits[f / 3],
              kept[f % 3], t.runs, t.exact, t.busy_eq, t.macs_eq);
    }
    sparq_device_close(ref);
    sparq_device_close(dev);
    return check_done();
}
