// Randomised co-simulation: GEMMs across every (width, N:M), ragged shapes,
// host accumulate and device accumulate (forced K chunking), raw int32 and
// requantized int8, sent through the full byte protocol to the C device
// model ("ref") and the Verilator RTL ("sim"), each compared bit for bit
// with sparq_gemm_ref / sparq_requant_ref. Finally the data-independent
// counters (busy cycles, MACs) of both backends must agree, with each other
// and with the model device (job-cycle model and wire-byte accounting).
// Twice: the default 16x16 array with 4 MAC lanes per PE, and a 4x4 one-lane
// build (LANES = 1, the iCE40 board's; a protocol-version-1 device).
// Then protocol version 3 on the default array: random two-matrix chains
// (fused epilogue with random tables, W1 and W2 in every one of the 9
// formats, resident in the weight store or streamed) and resident GEMMs,
// on ref and sim, each bit for bit against sparq_gemm_ref -> requant ->
// table -> sparq_gemm_ref -> requant, and the busy / MAC counters and wire
// bytes of ref, sim and the model device equal. (Until the RTL reports the
// version-3 caps, the sim side of that part is skipped with a "# SKIP" line.)
// SPARQ_SEED replays a run; SPARQ_COSIM_N sets the number of GEMMs (the
// one-lane array runs a quarter of them, the chains a tenth).
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sparq_backend.h"
#include "sparq_device.h"
#include "sparq_error.h"
#include "sparq_gemm.h"
#include "sparq_gemm_case.h"
#include "sparq_protocol.h"
#include "sparq_rng.h"
#include "sparq_sim.h"

static uint64_t rng_state;
static uint32_t rnd(void)
{
    return (uint32_t)(sparq_rng_next(&rng_state) >> 32);
}
static int rnd_in(int lo, int hi) { return lo + (int)(rnd() % (uint32_t)(hi - lo + 1)); }

struct gemm_case {
    struct sparq_packed w;
    int8_t *x;
    int t, in, out, x_stride, y_stride;
    int q8, accumulate, kchunk, xmode, xbanks;
    struct sparq_requant_params *params;
    int32_t *y0;    // initial y for host accumulate
    int32_t *want;  // golden int32
    int8_t *want8;  // golden int8
};

static int make_case(struct gemm_case *g, const struct sparq_format_type *type)
{
    memset(g, 0, sizeof *g);
    int big = rnd() % 8 == 0, tall = rnd() % 48 == 0;
    // tall: more frames than the result buffer (256), so frame chunks pair
    // up on one weight tile (or not, with xbanks 1).
    g->t = tall ? rnd_in(257, 600) : rnd_in(1, big ? 120 : 40);
    g->out = rnd_in(1, big ? 40 : 36);
    g->in = rnd_in(1, big ? 160 : 70);
    g->x_stride = g->in + rnd_in(0, 3);
    g->y_stride = g->out + rnd_in(0, 3);
    g->q8 = rnd() % 3 == 0;
    g->accumulate = !g->q8 && rnd() % 3 == 0;
    g->kchunk = rnd() % 3 == 0 ? rnd_in(1, 3) : 0;
    g->xmode = rnd_in(0, 2);
    g->xbanks = rnd_in(1, 2);
    float *wf = malloc(sizeof(float) * (size_t)g->out * (size_t)g->in);
    g->x = malloc((size_t)g->t * (size_t)g->x_stride);
    size_t ny = (size_t)g->t * (size_t)g->y_stride;
    g->y0 = malloc(ny * sizeof(int32_t));
    g->want = malloc(ny * sizeof(int32_t));
    g->want8 = malloc(ny);
    g->params = malloc(sizeof *g->params * (size_t)g->out);
    if (!wf || !g->x || !g->y0 || !g->want || !g->want8 || !g->params)
        return SPARQ_ENOMEM;
    for (size_t i = 0; i < (size_t)g->out * (size_t)g->in; i++)
        wf[i] = (float)((int)(rnd() % 2001) - 1000) / 100.0f;
    struct sparq_pack_options opt = { rnd() % 2 ? SPARQ_GRID_FULL : SPARQ_GRID_SYMMETRIC, NULL };
    int rc = sparq_pack(&g->w, wf, NULL, type->width, type->kept, g->out, g->in, &opt);
    free(wf);
    if (rc)
        return rc;
    for (size_t i = 0; i < (size_t)g->t * (size_t)g->x_stride; i++)
        g->x[i] = (int8_t)(rnd() & 0xFF);
    for (size_t i = 0; i < ny; i++)
        g->y0[i] = (int32_t)rnd();
    for (int o = 0; o < g->out; o++) {
        g->params[o].bias = (int32_t)(rnd() % 200001) - 100000;
        g->params[o].mult = (int32_t)(rnd() & 0x7FFFFFFF);
        g->params[o].shift = (int8_t)rnd_in(0, 45);
        if (rnd() % 10 == 0)
            g->params[o].shift = 0;
    }
    memcpy(g->want, g->y0, ny * sizeof(int32_t));
    sparq_gemm_ref(g->want, g->y_stride, g->x, g->x_stride, &g->w, g->t, g->accumulate);
    sparq_requant_ref(g->want8, g->y_stride, g->want, g->y_stride, g->params, g->t, g->out);
    return SPARQ_OK;
}

static void free_case(struct gemm_case *g)
{
    sparq_packed_free(&g->w);
    free(g->x);
    free(g->y0);
    free(g->want);
    free(g->want8);
    free(g->params);
}

// Runs one case on a device; returns 1 if bit-exact.
static int run_case(struct sparq_device *dev, const struct gemm_case *g, int32_t *y, int8_t *y8)
{
    size_t ny = (size_t)g->t * (size_t)g->y_stride;
    sparq_device_set_kchunk(dev, g->kchunk);
    sparq_device_set_xmode(dev, g->xmode);
    sparq_device_set_xbanks(dev, g->xbanks);
    int rc;
    if (g->q8) {
        if (y8)
            memset(y8, 0x55, ny);
        rc = sparq_device_gemm_q8(dev, y8, g->y_stride, g->x, g->x_stride, &g->w, g->t, g->params);
    } else {
        if (y)
            memcpy(y, g->y0, ny * sizeof(int32_t));
        rc = sparq_device_gemm(dev, y, g->y_stride, g->x, g->x_stride, &g->w, g->t, g->accumulate);
    }
    if (rc) {
        printf("# %s: %s\n", sparq_device_backend(dev), sparq_last_error());
        return 0;
    }
    for (int r = 0; y && y8 && r < g->t; r++)
        for (int o = 0; o < g->out; o++) {
            size_t i = (size_t)r * (size_t)g->y_stride + (size_t)o;
            int ok = g->q8 ? y8[i] == g->want8[i] : y[i] == g->want[i];
            if (!ok) {
                printf("# %s %s t=%d out=%d in=%d q8=%d acc=%d kchunk=%d xmode=%d xbanks=%d: y[%d][%d] = %d, want %d\n",
                       sparq_device_backend(dev), g->w.type->name, g->t, g->out, g->in, g->q8, g->accumulate,
                       g->kchunk, g->xmode, g->xbanks, r, o, g->q8 ? y8[i] : y[i], g->q8 ? g->want8[i] : g->want[i]);
                return 0;
            }
        }
    return 1;
}

// The one-lane RTL build (sim/sim.mk, SPARQ_SIM_LANES1) and its C model twin.
static const struct sparq_device_config lanes1_cfg = {
    .rows = 4, .cols = 4, .wdepth = 256, .xdepth = 256, .rdepth = 64, .timeout = 4096, .lanes = 1,
};

static int sim1_send(void *ctx, const uint8_t *data, size_t n)
{
    sparq_sim_push(ctx, data, n);
    return SPARQ_OK;
}
static int sim1_recv(void *ctx, uint8_t *data, size_t n)
{
    const struct sparq_device_config *c = &lanes1_cfg; // the longest silence, as sim_transport.c
    uint64_t quiet = 2 * (sparq_devmodel_job_cycles(c, c->rdepth, c->wdepth / 16, 4) + (uint64_t)c->timeout) + 4096;
    if (sparq_sim_run_until(ctx, n, quiet) < n)
        return sparq_fail(SPARQ_ETIMEOUT, "sim lanes1: no reply");
    sparq_sim_pull(ctx, data, n);
    return SPARQ_OK;
}
static int sim1_idle(void *ctx)
{
    sparq_sim_step(ctx, (uint64_t)lanes1_cfg.timeout + 64);
    return SPARQ_OK;
}
static uint64_t sim1_cycles(void *ctx) { return sparq_sim_cycles(ctx); }
static void sim1_close(void *ctx) { sparq_sim_destroy(ctx); }
static const struct sparq_transport_ops sim1_ops = {
    .name = "sim", .send = sim1_send, .recv = sim1_recv, .idle = sim1_idle, .cycles = sim1_cycles, .close = sim1_close,
};

// Opens the ref and sim devices of one configuration: NULL the default.
static int open_pair(struct sparq_device *dev[2], const struct sparq_device_config *cfg)
{
    if (!cfg)
        return sparq_device_open(&dev[0], "ref") || sparq_device_open(&dev[1], "sim");
    struct sparq_transport tr[2] = { { NULL, NULL }, { &sim1_ops, sparq_sim_create_model(SPARQ_SIM_LANES1) } };
    if (!tr[1].ctx || sparq_transport_ref(&tr[0], cfg))
        return SPARQ_EDEVICE;
    return sparq_device_open_transport(&dev[0], tr[0]) || sparq_device_open_transport(&dev[1], tr[1]);
}

// n random GEMMs on one configuration's ref and sim devices.
static void cosim(const char *label, const struct sparq_device_config *cfg, int n)
{
    const char *backends[2] = { "ref", "sim" };
    struct sparq_device *dev[2] = { NULL, NULL };
    int rc = open_pair(dev, cfg);
    CHECK(rc == SPARQ_OK, "%s: open ref and sim devices (%s)", label, rc ? sparq_last_error() : "ok");
    if (rc)
        return;
    const struct sparq_device_config *c = cfg ? cfg : &sparq_device_default_config;
    int v3 = c->xbanks > 2 || c->rbufs > 1 || c->wstore > 0 || c->qdepth > c->cols || c->luts > 0;
    int sim_v2 = 0; // the sim without the version-3 features: its own model device (link bytes differ)
    for (int b = 0; b < 2; b++) {
        struct sparq_device_info info;
        int rc2 = sparq_device_identify(dev[b], &info), want = v3 ? 3 : c->lanes > 1 ? 2 : 1;
        if (!rc2 && b == 1 && v3 && info.version == 2) {
            printf("# SKIP %s: sim identifies as protocol version 2: the RTL has no version-3 features yet\n", label);
            want = 2;
            sim_v2 = 1;
        }
        CHECK(rc2 == SPARQ_OK && info.rows == c->rows && sparq_device_lanes(dev[b]) == c->lanes &&
                  info.version == want,
              "%s: %s identifies as %dx%d, %d lanes, protocol version %d", label, backends[b], info.rows, info.cols,
              sparq_device_lanes(dev[b]), info.version);
    }
    int count;
    const struct sparq_format_type *types = sparq_format_all(&count);
    int run[9][2] = { { 0 } }, good[9][2] = { { 0 } };
    // The model device (job-cycle model, the driver's own byte accounting)
    // sees the same GEMMs and must count what the devices counted.
    struct sparq_device *model = NULL, *model2 = NULL;
    // (with the reliability layer's bytes when the devices have one: those
    // sparq_device_open() made, not the raw one-lane transports)
    CHECK(sparq_device_open_model(&model, cfg, cfg == NULL) == SPARQ_OK, "%s: open model device", label);
    struct sparq_device_config c2 = *c;
    c2.xbanks = c2.rbufs = c2.wstore = c2.qdepth = c2.luts = 0;
    if (sim_v2)
        CHECK(sparq_device_open_model(&model2, &c2, cfg == NULL) == SPARQ_OK, "%s: open a version-2 model device",
              label);
    struct sparq_device_counters c0[2];
    for (int b = 0; b < 2; b++)
        sparq_device_counters(dev[b], &c0[b]);
    uint64_t w0[2][2];
    for (int b = 0; b < 2; b++)
        sparq_device_wire(dev[b], &w0[b][0], &w0[b][1]);
    int32_t *y = malloc(sizeof(int32_t) * 704 * 48);
    int8_t *y8 = malloc(704 * 48);
    for (int i = 0; i < n; i++) {
        int f = i % count;
        struct gemm_case g;
        if (make_case(&g, &types[f])) {
            CHECK(0, "case %d: %s", i, sparq_last_error());
            break;
        }
        for (int b = 0; b < 2; b++) {
            run[f][b]++;
            good[f][b] += run_case(dev[b], &g, y, y8);
        }
        if (model)
            run_case(model, &g, NULL, NULL); // results unchecked: it computes nothing
        if (model2)
            run_case(model2, &g, NULL, NULL);
        free_case(&g);
    }
    for (int f = 0; f < count; f++)
        for (int b = 0; b < 2; b++)
            CHECK(good[f][b] == run[f][b], "%s: %s on %s: %d of %d GEMMs bit-exact", label, types[f].name,
                  backends[b], good[f][b], run[f][b]);
    uint64_t w1[3][2];
    for (int b = 0; b < 2; b++)
        sparq_device_wire(dev[b], &w1[b][0], &w1[b][1]);
    if (model)
        sparq_device_wire(model, &w1[2][0], &w1[2][1]);
    uint64_t w2[2] = { 0, 0 };
    if (model2)
        sparq_device_wire(model2, &w2[0], &w2[1]);
    struct sparq_device_counters cn[2], cm;
    for (int b = 0; b < 2; b++)
        CHECK(sparq_device_counters(dev[b], &cn[b]) == SPARQ_OK, "%s: %s counters", label, backends[b]);
    if (model)
        sparq_device_counters(model, &cm);
    for (int b = 0; b < 2; b++) {
        uint64_t out = w1[b][0] - w0[b][0], in = w1[b][1] - w0[b][1];
        const uint64_t *mw = b == 1 && model2 ? w2 : w1[2];
        CHECK(model && out == mw[0] && in == mw[1], "%s: %s wire bytes %llu out / %llu in == model device %llu / %llu",
              label, backends[b], (unsigned long long)out, (unsigned long long)in, (unsigned long long)mw[0],
              (unsigned long long)mw[1]);
        CHECK(model && cn[b].busy - c0[b].busy == cm.busy && cn[b].macs - c0[b].macs == cm.macs,
              "%s: %s busy cycles %llu and MACs %llu == job-cycle model %llu / %llu", label, backends[b],
              (unsigned long long)(cn[b].busy - c0[b].busy), (unsigned long long)(cn[b].macs - c0[b].macs),
              (unsigned long long)(model ? cm.busy : 0), (unsigned long long)(model ? cm.macs : 0));
    }
    sparq_device_close(model);
    sparq_device_close(model2);
    CHECK(cn[0].macs == cn[1].macs && cn[0].macs > 0, "%s: MAC counters agree: ref %llu, sim %llu", label,
          (unsigned long long)cn[0].macs, (unsigned long long)cn[1].macs);
    CHECK(cn[0].busy == cn[1].busy && cn[0].busy > 0, "%s: busy cycles agree: ref %llu, sim %llu", label,
          (unsigned long long)cn[0].busy, (unsigned long long)cn[1].busy);
    CHECK(cn[1].total >= cn[1].busy, "%s: sim total cycles %llu >= busy", label, (unsigned long long)cn[1].total);
    printf("# %s sim: %llu cycles\n", label, (unsigned long long)sparq_device_cycles(dev[1]));
    free(y);
    free(y8);
    sparq_device_close(dev[0]);
    sparq_device_close(dev[1]);
}

// --- protocol version 3 -------------------------------------------------------
static const int widths[3] = { 8, 4, 2 }, kepts[3] = { 4, 2, 1 };

// Random chain W1 (hid, in) -> table -> W2 (out, hid) and its reference.
struct chain_case {
    struct sparq_gemm_case c1, c2;
    int t, f1, f2;
    int8_t *lut, table[256];
    int8_t *want;
};

static int make_chain(struct chain_case *k, int f1)
{
    memset(k, 0, sizeof *k);
    k->t = rnd() % 8 == 0 ? rnd_in(200, 520) : rnd_in(1, 64);
    int in = rnd_in(1, 160), hid = rnd_in(1, 100), out = rnd_in(1, 48);
    k->f1 = f1;
    k->f2 = rnd_in(0, 8);
    if (sparq_gemm_case_make(&k->c1, k->t, hid, in, widths[f1 / 3], kepts[f1 % 3], &rng_state) ||
        sparq_gemm_case_make(&k->c2, k->t, out, hid, widths[k->f2 / 3], kepts[k->f2 % 3], &rng_state))
        return SPARQ_ENOMEM;
    for (int i = 0; i < 256; i++)
        k->table[i] = (int8_t)(rnd() & 0xFF);
    k->lut = rnd() % 5 ? k->table : NULL;
    k->want = malloc((size_t)k->t * (size_t)out);
    return k->want ? sparq_gemm_case_chain_ref(k->want, &k->c1, &k->c2, k->lut, k->t) : SPARQ_ENOMEM;
}

static void free_chain(struct chain_case *k)
{
    sparq_gemm_case_free(&k->c1);
    sparq_gemm_case_free(&k->c2);
    free(k->want);
}

// One chain (loaded or streamed matrices) and one resident raw GEMM of W1 on
// dev; y NULL on the model device. Returns 1 if both are bit-exact.
static int run_chain(struct sparq_device *dev, struct chain_case *k, int load, int8_t *y, int32_t *y32)
{
    struct sparq_device_matrix m1 = { 0 }, m2 = { 0 };
    m1.w = &k->c1.w;
    m1.q = k->c1.qp;
    m2.w = &k->c2.w;
    m2.q = k->c2.qp;
    int rc = load ? sparq_device_matrix_load(dev, &m1) : SPARQ_OK;
    if (!rc && load)
        rc = sparq_device_matrix_load(dev, &m2);
    if (!rc)
        rc = sparq_device_chain2(dev, y, k->c2.out, y ? k->c1.x : NULL, k->c1.in, &m1, k->lut, &m2, k->t);
    if (!rc)
        rc = sparq_device_gemm_m(dev, y32, k->c1.out, y ? k->c1.x : NULL, k->c1.in, &m1, k->t, 0);
    sparq_device_matrix_release(&m1);
    sparq_device_matrix_release(&m2);
    if (rc) {
        printf("# %s: %s\n", sparq_device_backend(dev), sparq_last_error());
        return 0;
    }
    if (!y)
        return 1;
    int ok = !memcmp(y, k->want, (size_t)k->t * (size_t)k->c2.out) &&
             !memcmp(y32, k->c1.want, sizeof(int32_t) * (size_t)k->t * (size_t)k->c1.out);
    if (!ok)
        printf("# %s chain t=%d in=%d hid=%d out=%d %s -> %s lut %d load %d: wrong\n", sparq_device_backend(dev), k->t,
               k->c1.in, k->c1.out, k->c2.out, k->c1.w.type->name, k->c2.w.type->name, k->lut != NULL, load);
    return ok;
}

static void cosim_v3(int n)
{
    const char *backends[2] = { "ref", "sim" };
    struct sparq_device *dev[2] = { NULL, NULL }, *model = NULL;
    int rc = open_pair(dev, NULL);
    CHECK(rc == SPARQ_OK, "v3: open ref and sim devices (%s)", rc ? sparq_last_error() : "ok");
    if (rc)
        return;
    struct sparq_device_info info;
    int nb = 2;
    if (sparq_device_identify(dev[1], &info) || info.caps != 7) {
        printf("# SKIP v3 chains on sim: it reports caps %d (the RTL without the version-3 features)\n",
               info.caps);
        nb = 1;
    }
    CHECK(sparq_device_open_model(&model, NULL, 1) == SPARQ_OK, "v3: model device");
    struct sparq_device_counters c0[2], c1[2], cm;
    uint64_t w0[3][2], w1[3][2];
    for (int b = 0; b < nb; b++) {
        sparq_device_counters(dev[b], &c0[b]);
        sparq_device_wire(dev[b], &w0[b][0], &w0[b][1]);
    }
    sparq_device_wire(model, &w0[2][0], &w0[2][1]);
    int run[9][2] = { { 0 } }, good[9][2] = { { 0 } };
    int8_t *y = malloc(520 * 48);
    int32_t *y32 = malloc(sizeof(int32_t) * 520 * 100);
    for (int i = 0; i < n && y && y32; i++) {
        struct chain_case k;
        if (make_chain(&k, i % 9)) {
            CHECK(0, "v3 case %d: %s", i, sparq_last_error());
            free_chain(&k);
            break;
        }
        int load = rnd() % 4 != 0, kchunk = rnd() % 3 == 0 ? rnd_in(1, 3) : 0; // kchunk: accumulate COMPUTE_S
        for (int b = 0; b < 2; b++)
            sparq_device_set_kchunk(dev[b], kchunk);
        sparq_device_set_kchunk(model, kchunk);
        for (int b = 0; b < nb; b++) {
            run[k.f1][b]++;
            good[k.f1][b] += run_chain(dev[b], &k, load, y, y32);
        }
        run_chain(model, &k, load, NULL, NULL);
        free_chain(&k);
    }
    free(y);
    free(y32);
    for (int f = 0; f < 9; f++)
        for (int b = 0; b < nb; b++)
            CHECK(good[f][b] == run[f][b], "v3: chains with W1 int%d %d:4 on %s: %d of %d bit-exact", widths[f / 3],
                  kepts[f % 3], backends[b], good[f][b], run[f][b]);
    sparq_device_counters(model, &cm);
    sparq_device_wire(model, &w1[2][0], &w1[2][1]);
    for (int b = 0; b < nb; b++) {
        sparq_device_counters(dev[b], &c1[b]);
        sparq_device_wire(dev[b], &w1[b][0], &w1[b][1]);
        uint64_t busy = c1[b].busy - c0[b].busy, macs = c1[b].macs - c0[b].macs;
        CHECK(busy == cm.busy && macs == cm.macs && macs > 0,
              "v3: %s busy cycles %llu and MACs %llu == model device %llu / %llu", backends[b],
              (unsigned long long)busy, (unsigned long long)macs, (unsigned long long)cm.busy,
              (unsigned long long)cm.macs);
        CHECK(w1[b][0] - w0[b][0] == w1[2][0] - w0[2][0] && w1[b][1] - w0[b][1] == w1[2][1] - w0[2][1],
              "v3: %s wire bytes %llu out / %llu in == model device %llu / %llu", backends[b],
              (unsigned long long)(w1[b][0] - w0[b][0]), (unsigned long long)(w1[b][1] - w0[b][1]),
              (unsigned long long)(w1[2][0] - w0[2][0]), (unsigned long long)(w1[2][1] - w0[2][1]));
    }
    if (nb == 2)
        CHECK(c1[0].busy - c0[0].busy == c1[1].busy - c0[1].busy, "v3: busy cycles of ref and sim agree");
    sparq_device_close(model);
    sparq_device_close(dev[0]);
    sparq_device_close(dev[1]);
}

int main(void)
{
    rng_state = check_seed(20261126);
    const char *ns = getenv("SPARQ_COSIM_N");
#ifdef __SANITIZE_ADDRESS__
    int n = ns ? atoi(ns) : 450; // the sanitizer build checks the C side; fewer GEMMs
#else
    int n = ns ? atoi(ns) : 1800;
#endif
    cosim("16x16, 4 lanes", NULL, n);
    cosim("4x4, 1 lane", &lanes1_cfg, (n + 3) / 4);
    cosim_v3((n + 9) / 10);
    return check_done();
}
