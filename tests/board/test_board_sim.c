// The board design (FX2 slave-FIFO adapter + accelerator, Verilated) under a
// cycle model of the FX2's FIFOs, driven by the real host stack: device
// driver -> reliability layer -> (fault injector) -> this transport. Random
// GEMMs are compared with sparq_gemm_ref; the FX2 model counts protocol
// violations (FIFO over/underrun, bus contention, zero-length packets).
#include <math.h>
#include <string.h>

#include "../unit/check.h"
#include "board_sim.h"
#include "board_transport.h"
#include "sparq_device.h"
#include "sparq_error.h"
#include "sparq_gemm.h"
#include "sparq_link.h"

static int hard_reset(void *arg)
{
    bsim_fpga_reset(arg);
    return SPARQ_OK;
}

static uint64_t rng;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

struct tally {
    int ok, wrong, reported;
};

static void gemm(struct sparq_device *dev, struct tally *t)
{
    int T = 1 + (int)(rnd() % 20), out = 1 + (int)(rnd() % 9), in = 1 + (int)(rnd() % 60);
    static const int wk[3][2] = { { 8, 4 }, { 4, 2 }, { 2, 1 } };
    int f = (int)(rnd() % 3), acc = (int)(rnd() % 2);
    float wf[9 * 60];
    int8_t x[20 * 60];
    int32_t y[20 * 9], want[20 * 9];
    for (int i = 0; i < out * in; i++)
        wf[i] = (float)((int)(rnd() % 201) - 100);
    for (int i = 0; i < T * in; i++)
        x[i] = (int8_t)rnd();
    for (int i = 0; i < T * out; i++)
        y[i] = want[i] = (int32_t)rnd();
    struct sparq_packed w;
    memset(&w, 0, sizeof w);
    struct sparq_pack_options po = { SPARQ_GRID_FULL, NULL };
    if (sparq_pack(&w, wf, NULL, wk[f][0], wk[f][1], out, in, &po)) {
        t->reported++;
        return;
    }
    sparq_gemm_ref(want, out, x, in, &w, T, acc);
    sparq_device_set_kchunk(dev, 1 + (int)(rnd() % 2));
    int rc = sparq_device_gemm(dev, y, out, x, in, &w, T, acc);
    sparq_packed_free(&w);
    if (rc)
        t->reported++;
    else if (memcmp(y, want, sizeof(int32_t) * (size_t)T * (size_t)out))
        t->wrong++;
    else
        t->ok++;
}

// A GEMM requantized on the device (READ mode 1: the board's serial
// requantizer) against sparq_gemm_ref + sparq_requant_ref.
static void gemm_q8(struct sparq_device *dev, struct tally *t)
{
    int T = 1 + (int)(rnd() % 20), out = 1 + (int)(rnd() % 9), in = 1 + (int)(rnd() % 60);
    float wf[9 * 60];
    int8_t x[20 * 60], y[20 * 9], want[20 * 9];
    int32_t acc[20 * 9];
    struct sparq_requant_params qp[9];
    for (int i = 0; i < out * in; i++)
        wf[i] = (float)((int)(rnd() % 201) - 100);
    for (int i = 0; i < T * in; i++)
        x[i] = (int8_t)rnd();
    for (int c = 0; c < out; c++) {
        int shift;
        int32_t mult;
        // log-uniform scales 2^-7 .. 2^-16 around 1/(the accumulator's typical size): results in
        // and out of range, and shifts 37..46 cover every residue of the requantizer's 8-bit steps
        (void)sparq_requant_from_scale(ldexp(1.0 + (double)(rnd() % 1000) / 1000.0, -(int)(8 + rnd() % 9)), &mult,
                                       &shift);
        qp[c].bias = (int32_t)(rnd() % 20001) - 10000;
        qp[c].mult = mult;
        qp[c].shift = (int8_t)shift;
    }
    struct sparq_packed w;
    memset(&w, 0, sizeof w);
    struct sparq_pack_options po = { SPARQ_GRID_FULL, NULL };
    if (sparq_pack(&w, wf, NULL, 4, 2, out, in, &po)) {
        t->reported++;
        return;
    }
    sparq_gemm_ref(acc, out, x, in, &w, T, 0);
    sparq_requant_ref(want, out, acc, out, qp, T, out);
    int rc = sparq_device_gemm_q8(dev, y, out, x, in, &w, T, qp);
    sparq_packed_free(&w);
    if (rc)
        t->reported++;
    else if (memcmp(y, want, (size_t)T * (size_t)out))
        t->wrong++;
    else
        t->ok++;
}

int main(void)
{
    rng = check_seed(4242) * 2654435761u + 1;
    struct bsim *b = bsim_create();
    struct sparq_transport raw = { &board_ops, b }, fault, link;
    struct sparq_fault_options fo;
    memset(&fo, 0, sizeof fo);
    fo.seed = rng;
    fo.hard_reset = hard_reset;
    fo.hard_reset_arg = b;
    struct sparq_device *dev = NULL;
    int rc = sparq_fault_wrap(&fault, raw, &fo);
    if (!rc)
        rc = sparq_link_wrap(&link, fault, NULL);
    if (!rc)
        rc = sparq_device_open_transport(&dev, link);
    CHECK(rc == SPARQ_OK, "board core + FX2 model opens through the reliability layer: %s",
          rc ? sparq_last_error() : "ok");
    if (rc)
        return check_done();
    struct sparq_device_info info;
    rc = sparq_device_identify(dev, &info);
    CHECK(rc == SPARQ_OK && info.rows == 4 && info.cols == 4, "IDENTIFY over the FX2 path: %dx%d array", info.rows,
          info.cols);

    struct tally t = { 0, 0, 0 };
    for (int i = 0; i < 30; i++)
        gemm(dev, &t);
    CHECK(t.ok == 30 && bsim_violations(b) == 0,
          "30 random GEMMs through the FX2 adapter exact (%d), %llu FX2 protocol violations, %llu PKTENDs, %llu cycles",
          t.ok, (unsigned long long)bsim_violations(b), (unsigned long long)bsim_pktends(b),
          (unsigned long long)bsim_cycles(b));

    struct tally q = { 0, 0, 0 };
    for (int i = 0; i < 20; i++)
        gemm_q8(dev, &q);
    CHECK(q.ok == 20, "20 int4 2:4 GEMMs requantized on the device (serial requantizer) exact (%d)", q.ok);

    const struct sparq_link_stats *ls = sparq_device_link(dev);
    printf("# driver bytes: %llu to the device, %llu back, in %llu IFCLK cycles = %.3f bytes/cycle (adapter "
           "ceiling 0.5; the link layer's COUNTERS exchanges and compute time come on top)\n",
           (unsigned long long)ls->bytes_out, (unsigned long long)ls->bytes_in, (unsigned long long)bsim_cycles(b),
           (double)(ls->bytes_out + ls->bytes_in) / (double)bsim_cycles(b));
    // Faults on the USB side plus FPGA resets through the reset line.
    struct tally u = { 0, 0, 0 };
    for (int k = 0; k < 3; k++) {
        memset(&fo, 0, sizeof fo);
        fo.drop_cmd = fo.drop_reply = fo.dup_reply = fo.corrupt_cmd = fo.corrupt_reply = fo.delay_reply = 0.03;
        fo.hard_reset = hard_reset;
        fo.hard_reset_arg = b;
        fo.reset_after = sparq_fault_counts(&fault)->commands + 5 + rnd() % 20;
        sparq_fault_set(&fault, &fo);
        for (int i = 0; i < 6; i++)
            gemm(dev, &u);
    }
    const struct sparq_fault_counts *fc = sparq_fault_counts(&fault);
    CHECK(u.wrong == 0 && u.ok > 0 && fc->resets == 3,
          "faults at 3%% and 3 FPGA resets mid-run: %d exact, %d reported, 0 silently wrong (got %d)", u.ok,
          u.reported, u.wrong);
    CHECK(bsim_violations(b) == 0, "no FX2 protocol violation under faults and resets (%llu)",
          (unsigned long long)bsim_violations(b));
    sparq_device_close(dev);
    return check_done();
}
