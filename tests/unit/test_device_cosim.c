// Randomised co-simulation: GEMMs across every (width, N:M), ragged shapes,
// host accumulate and device accumulate (forced K chunking), raw int32 and
// requantized int8, sent through the full byte protocol to the C device
// model ("ref") and the Verilator RTL ("sim"), each compared bit for bit
// with sparq_gemm_ref / sparq_requant_ref. Finally the data-independent
// counters (busy cycles, MACs) of both backends must agree, with each other
// and with the model device (job-cycle model and wire-byte accounting).
// Twice: the default 16x16 array with 4 MAC lanes per PE, and a 4x4 one-lane
// build (LANES = 1, the iCE40 board's; a protocol-version-1 device).
// SPARQ_SEED replays a run; SPARQ_COSIM_N sets the number of GEMMs (the
// one-lane array runs a quarter of them).
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sparq_backend.h"
#include "sparq_device.h"
#include "sparq_error.h"
#include "sparq_gemm.h"
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
    for (int b = 0; b < 2; b++) {
        struct sparq_device_info info;
        CHECK(sparq_device_identify(dev[b], &info) == SPARQ_OK && info.rows == c->rows &&
                  sparq_device_lanes(dev[b]) == c->lanes && info.version == (c->lanes > 1 ? 2 : 1),
              "%s: %s identifies as %dx%d, %d lanes, protocol version %d", label, backends[b], info.rows, info.cols,
              sparq_device_lanes(dev[b]), info.version);
    }
    int count;
    const struct sparq_format_type *types = sparq_format_all(&count);
    int run[9][2] = { { 0 } }, good[9][2] = { { 0 } };
    // The model device (job-cycle model, the driver's own byte accounting)
    // sees the same GEMMs and must count what the devices counted.
    struct sparq_device *model = NULL;
    // (with the reliability layer's bytes when the devices have one: those
    // sparq_device_open() made, not the raw one-lane transports)
    CHECK(sparq_device_open_model(&model, cfg, cfg == NULL) == SPARQ_OK, "%s: open model device", label);
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
    struct sparq_device_counters cn[2], cm;
    for (int b = 0; b < 2; b++)
        CHECK(sparq_device_counters(dev[b], &cn[b]) == SPARQ_OK, "%s: %s counters", label, backends[b]);
    if (model)
        sparq_device_counters(model, &cm);
    for (int b = 0; b < 2; b++) {
        uint64_t out = w1[b][0] - w0[b][0], in = w1[b][1] - w0[b][1];
        CHECK(model && out == w1[2][0] && in == w1[2][1],
              "%s: %s wire bytes %llu out / %llu in == model device %llu / %llu", label, backends[b],
              (unsigned long long)out, (unsigned long long)in, (unsigned long long)(model ? w1[2][0] : 0),
              (unsigned long long)(model ? w1[2][1] : 0));
        CHECK(model && cn[b].busy - c0[b].busy == cm.busy && cn[b].macs - c0[b].macs == cm.macs,
              "%s: %s busy cycles %llu and MACs %llu == job-cycle model %llu / %llu", label, backends[b],
              (unsigned long long)(cn[b].busy - c0[b].busy), (unsigned long long)(cn[b].macs - c0[b].macs),
              (unsigned long long)(model ? cm.busy : 0), (unsigned long long)(model ? cm.macs : 0));
    }
    sparq_device_close(model);
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
    return check_done();
}
