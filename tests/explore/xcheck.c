// Cross-check of `sparq explore` (docs/explore.md): the model device the
// sweep plans on must count what the RTL of THAT configuration does. Linked
// (explore.mk) against a Verilator build of rtl/sparq_top.v with the
// configuration's parameters; runs the same GEMM calls (the Conformer's
// shapes and formats, both read-outs, ragged and multi-chunk tilings) on the
// Verilator model through the reliability layer and on the model device of
// the same configuration, and compares per call: the busy counter, the MAC
// counter and the wire bytes in each direction. The results are checked
// against the reference GEMM too. Prints TAP lines; SPARQ_SEED replays.
// With the version-3 parameters it also loads each matrix into the weight
// store (sparq_device_matrix_load, then the GEMMs on it, as the runtime does
// on such hardware) and, with epilogue tables, runs chained pairs
// (sparq_device_chain2), the calls the explore planner makes there.
//   xcheck ROWS COLS LANES WDEPTH XDEPTH RDEPTH [XBANKS RBUFS WSTORE QDEPTH LUTS]
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sparq_backend.h"
#include "sparq_device.h"
#include "sparq_error.h"
#include "sparq_gemm_case.h"

static int n_test, n_fail;

static void ok(int cond, const char *fmt, const char *what)
{
    n_test++;
    if (!cond)
        n_fail++;
    printf("%s %d - %s%s\n", cond ? "ok" : "not ok", n_test, fmt, what);
}

struct snap {
    struct sparq_device_counters c;
    uint64_t out, in;
};

static void take(struct sparq_device *d, struct snap *s)
{
    sparq_device_counters(d, &s->c);
    sparq_device_wire(d, &s->out, &s->in);
}

// A feed-forward chain (W1 144 -> 64, a table, W2 64 -> 40) as the runtime
// runs it on a device with the epilogue: only x goes in and y comes out.
static void chain_check(struct sparq_device *sim, struct sparq_device *model, uint64_t *rng)
{
    struct sparq_gemm_case c1, c2;
    const int t = 40;
    if (sparq_gemm_case_make(&c1, t, 64, 144, 4, 2, rng) || sparq_gemm_case_make(&c2, t, 40, 64, 4, 2, rng)) {
        printf("not ok %d - chain cases: %s\n", ++n_test, sparq_last_error());
        n_fail++;
        return;
    }
    int8_t lut[256];
    for (int i = 0; i < 256; i++) // a SiLU-like table: negative codes shrink
        lut[i] = (int8_t)(i < 128 ? (i - 128) / 4 : i - 128);
    struct sparq_device_matrix a1 = { .w = &c1.w, .q = c1.qp }, a2 = { .w = &c2.w, .q = c2.qp };
    struct sparq_device_matrix b1 = { .w = &c1.w, .q = c1.qp }, b2 = { .w = &c2.w, .q = c2.qp };
    int rc = sparq_device_matrix_load(sim, &a1) || sparq_device_matrix_load(sim, &a2) ||
             sparq_device_matrix_load(model, &b1) || sparq_device_matrix_load(model, &b2);
    struct snap s0, s1, m0, m1;
    take(sim, &s0);
    take(model, &m0);
    if (!rc)
        rc = sparq_device_chain2(sim, c2.y8, c2.out, c1.x, c1.in, &a1, lut, &a2, t) ||
             sparq_device_chain2(model, NULL, c2.out, NULL, c1.in, &b1, lut, &b2, t);
    sparq_device_wire(sim, &s1.out, &s1.in);
    sparq_device_wire(model, &m1.out, &m1.in);
    sparq_device_counters(sim, &s1.c);
    sparq_device_counters(model, &m1.c);
    char what[200];
    snprintf(what, sizeof what,
             ": busy %" PRIu64 "/%" PRIu64 ", bytes out %" PRIu64 "/%" PRIu64 " in %" PRIu64 "/%" PRIu64
             " (sim/model)",
             s1.c.busy - s0.c.busy, m1.c.busy - m0.c.busy, s1.out - s0.out, m1.out - m0.out, s1.in - s0.in,
             m1.in - m0.in);
    ok(rc == 0, "a chained pair runs on both devices", what);
    ok(s1.c.busy - s0.c.busy == m1.c.busy - m0.c.busy, "chain: busy counter equals the model's", "");
    ok(s1.out - s0.out == m1.out - m0.out && s1.in - s0.in == m1.in - m0.in, "chain: wire bytes equal the model's", "");
    sparq_device_matrix_release(&a1), sparq_device_matrix_release(&a2);
    sparq_device_matrix_release(&b1), sparq_device_matrix_release(&b2);
    sparq_gemm_case_free(&c1);
    sparq_gemm_case_free(&c2);
}

int main(int argc, char **argv)
{
    if (argc != 7 && argc != 12) {
        fprintf(stderr, "usage: xcheck ROWS COLS LANES WDEPTH XDEPTH RDEPTH [XBANKS RBUFS WSTORE QDEPTH LUTS]\n");
        return 2;
    }
    // The RTL's own defaults for what the build does not set (sparq_top.v:
    // the version-2 device), the command line's otherwise.
    struct sparq_device_config cfg = sparq_device_default_config;
    cfg.rows = atoi(argv[1]), cfg.cols = atoi(argv[2]), cfg.lanes = atoi(argv[3]);
    cfg.wdepth = atoi(argv[4]), cfg.xdepth = atoi(argv[5]), cfg.rdepth = atoi(argv[6]);
    cfg.xbanks = 2, cfg.rbufs = 1, cfg.wstore = 0, cfg.qdepth = 0, cfg.luts = 0;
    if (argc == 12) {
        cfg.xbanks = atoi(argv[7]), cfg.rbufs = atoi(argv[8]), cfg.wstore = atoi(argv[9]);
        cfg.qdepth = atoi(argv[10]), cfg.luts = atoi(argv[11]);
    }
    uint64_t seed = getenv("SPARQ_SEED") ? strtoull(getenv("SPARQ_SEED"), NULL, 0) : (uint64_t)time(NULL);
    printf("# seed %" PRIu64 " (SPARQ_SEED replays); %dx%d, %d lanes, wdepth %d xdepth %d rdepth %d, xbanks %d "
           "rbufs %d wstore %d qdepth %d luts %d\n",
           seed, cfg.rows, cfg.cols, cfg.lanes, cfg.wdepth, cfg.xdepth, cfg.rdepth, cfg.xbanks, cfg.rbufs,
           cfg.wstore, cfg.qdepth, cfg.luts);
    struct sparq_device *sim = NULL, *model = NULL;
    if (sparq_device_open(&sim, "sim") || sparq_device_open_model(&model, &cfg, 1)) {
        printf("not ok 1 - open the devices: %s\n", sparq_last_error());
        return 1;
    }
    struct sparq_device_info info;
    int rc = sparq_device_identify(sim, &info);
    char what[160];
    snprintf(what, sizeof what, " (IDENTIFY %dx%d w%d x%d r%d, %d lanes)", info.rows, info.cols, info.wdepth,
             info.xdepth, info.rdepth, sparq_device_lanes(sim));
    ok(rc == 0 && info.rows == cfg.rows && info.cols == cfg.cols && info.wdepth == cfg.wdepth &&
           info.xdepth == cfg.xdepth && info.rdepth == cfg.rdepth && sparq_device_lanes(sim) == cfg.lanes,
       "the Verilator build is the configuration asked for", what);
    // The Conformer's matmul shapes cut down to simulate quickly, in the
    // formats sparq exports; frames chosen to need ragged and several chunks.
    static const struct { int t, out, in, width, kept; } cases[] = {
        { 37, 36, 144, 4, 2 }, { 70, 20, 576, 4, 2 }, { 45, 24, 144, 8, 4 }, { 33, 16, 288, 2, 1 },
        { 150, 18, 64, 4, 4 }, { 21, 40, 144, 8, 2 },
    };
    uint64_t rng = seed;
    uint64_t tot_busy = 0, tot_bytes = 0;
    const int modes = cfg.wstore ? 4 : 2; // i32, q8; then both on store-resident matrices
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        for (int mode = 0; mode < modes; mode++) {
            const int q8 = mode & 1, stored = mode >> 1;
            struct sparq_gemm_case gc;
            int t = cases[k].t;
            if (sparq_gemm_case_make(&gc, t, cases[k].out, cases[k].in, cases[k].width, cases[k].kept, &rng)) {
                printf("not ok %d - case: %s\n", ++n_test, sparq_last_error());
                n_fail++;
                continue;
            }
            struct snap s0, s1, m0, m1;
            struct sparq_device_matrix ms = { .w = &gc.w, .q = gc.qp }, mm_ = { .w = &gc.w, .q = gc.qp };
            int r1 = 0, r2 = 0;
            if (stored) { // loading is part of what must match, as the runtime's open
                r1 = sparq_device_matrix_load(sim, &ms);
                r2 = sparq_device_matrix_load(model, &mm_);
            }
            take(sim, &s0);
            take(model, &m0);
            if (!r1 && !r2 && stored) {
                r1 = q8 ? sparq_device_gemm_q8_m(sim, gc.y8, gc.out, gc.x, gc.in, &ms, t)
                        : sparq_device_gemm_m(sim, gc.y, gc.out, gc.x, gc.in, &ms, t, 0);
                r2 = q8 ? sparq_device_gemm_q8_m(model, NULL, gc.out, NULL, gc.in, &mm_, t)
                        : sparq_device_gemm_m(model, NULL, gc.out, NULL, gc.in, &mm_, t, 0);
            } else if (!r1 && !r2) {
                r1 = q8 ? sparq_device_gemm_q8(sim, gc.y8, gc.out, gc.x, gc.in, &gc.w, t, gc.qp)
                        : sparq_device_gemm(sim, gc.y, gc.out, gc.x, gc.in, &gc.w, t, 0);
                r2 = q8 ? sparq_device_gemm_q8(model, NULL, gc.out, NULL, gc.in, &gc.w, t, gc.qp)
                        : sparq_device_gemm(model, NULL, gc.out, NULL, gc.in, &gc.w, t, 0);
            }
            sparq_device_wire(sim, &s1.out, &s1.in);
            sparq_device_wire(model, &m1.out, &m1.in);
            sparq_device_counters(sim, &s1.c);
            sparq_device_counters(model, &m1.c);
            size_t bad = r1 ? (size_t)-1 : sparq_gemm_case_mismatches(&gc, q8 ? NULL : gc.y, 0, q8 ? gc.y8 : NULL);
            uint64_t sb = s1.c.busy - s0.c.busy, mb = m1.c.busy - m0.c.busy;
            uint64_t sm = s1.c.macs - s0.c.macs, mm = m1.c.macs - m0.c.macs;
            uint64_t so = s1.out - s0.out, si = s1.in - s0.in, mo = m1.out - m0.out, mi = m1.in - m0.in;
            snprintf(what, sizeof what,
                     ": t %d, %dx%d int%d %d:4, %s%s: busy %" PRIu64 "/%" PRIu64 ", MACs %" PRIu64 "/%" PRIu64
                     ", bytes out %" PRIu64 "/%" PRIu64 " in %" PRIu64 "/%" PRIu64 " (sim/model)",
                     t, gc.out, gc.in, cases[k].width, cases[k].kept, q8 ? "q8" : "i32",
                     stored ? (ms.resident ? ", resident" : ", store full: streamed") : "", sb, mb, sm, mm, so, mo,
                     si, mi);
            ok(r1 == 0 && r2 == 0 && bad == 0, "results exact on the RTL", what);
            if (r1 || r2)
                printf("#   sim %d, model %d: %s\n", r1, r2, sparq_last_error());
            ok(sb == mb && sm == mm, "busy and MAC counters equal the model's", "");
            ok(so == mo && si == mi, "wire bytes equal the model's", "");
            tot_busy += sb;
            tot_bytes += so + si;
            if (stored) {
                sparq_device_matrix_release(&ms);
                sparq_device_matrix_release(&mm_);
            }
            sparq_gemm_case_free(&gc);
        }
    if (cfg.luts > 0 && cfg.cols >= 16)
        chain_check(sim, model, &rng);
    printf("# %" PRIu64 " busy cycles, %" PRIu64 " wire bytes over the calls\n", tot_busy, tot_bytes);
    sparq_device_close(sim);
    sparq_device_close(model);
    return n_fail ? 1 : 0;
}
