// The "sim" transport: bytes go through the FIFO port of the Verilator model
// of rtl/sparq_top.v (sim/sparq_sim.cpp), one byte per simulated clock.
#include <stdlib.h>

#include "sparq_sim.h"
#include "sparq_backend.h"
#include "sparq_error.h"

// The device is hung when no byte moved in either direction for longer than
// the longest silence a working device can keep: one job at the largest
// shape the buffers hold (a command waiting for it takes no bytes), then an
// rx timeout, twice over. About 0.1 M cycles for the default 16x16 model.
// A long GEMM is never cut off: every taken or sent byte restarts the count
// (sparq_sim_run_until), however much the host queued.
static uint64_t sim_quiet_budget(void)
{
    const struct sparq_device_config *c = &sparq_device_default_config;
    uint64_t job = sparq_devmodel_job_cycles(c, c->rdepth, c->wdepth / 16, 4);
    return 2 * (job + (uint64_t)c->timeout) + 4096;
}

static int sim_send(void *ctx, const uint8_t *data, size_t n)
{
    sparq_sim_push(ctx, data, n);
    return SPARQ_OK;
}

static int sim_recv(void *ctx, uint8_t *data, size_t n)
{
    uint64_t quiet = sim_quiet_budget();
    size_t have = sparq_sim_run_until(ctx, n, quiet);
    if (have < n)
        return sparq_fail(SPARQ_ETIMEOUT, "device sim: no byte moved for %llu cycles (%zu of %zu reply bytes)",
                          (unsigned long long)quiet, have, n);
    sparq_sim_pull(ctx, data, n);
    return SPARQ_OK;
}

static int sim_idle(void *ctx)
{
    // Let the device drain what it was sent, then stay quiet past its rx
    // timeout (sparq_device_default_config.timeout) so a partial packet ends.
    for (int i = 0; i < 1000 && sparq_sim_rx_pending(ctx); i++)
        sparq_sim_step(ctx, 64);
    sparq_sim_step(ctx, (uint64_t)sparq_device_default_config.timeout + 64);
    return SPARQ_OK;
}

static uint64_t sim_cycles(void *ctx) { return sparq_sim_cycles(ctx); }

static void sim_close(void *ctx) { sparq_sim_destroy(ctx); }

static const struct sparq_transport_ops sim_ops = {
    .name = "sim", .send = sim_send, .recv = sim_recv, .idle = sim_idle, .cycles = sim_cycles, .close = sim_close,
};

int sparq_transport_sim(struct sparq_transport *tr)
{
    struct sparq_sim *s = sparq_sim_create();
    if (!s)
        return sparq_fail(SPARQ_EDEVICE, "device sim: cannot create the Verilator model");
    tr->ops = &sim_ops;
    tr->ctx = s;
    return SPARQ_OK;
}
