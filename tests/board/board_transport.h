// The host transport over a Verilated board design (board_sim.h): the FX2
// model's FIFOs as send / receive, idle = past the device's rx timeout. One
// copy for every board-simulation test.
#ifndef BOARD_TRANSPORT_H
#define BOARD_TRANSPORT_H

#include "board_sim.h"
#include "sparq_device.h"
#include "sparq_error.h"

#define REPLY_BUDGET 400000 // cycles: far above any command of the small Verilated configurations

static int b_send(void *ctx, const uint8_t *d, size_t n)
{
    bsim_push(ctx, d, n);
    return SPARQ_OK;
}
static int b_recv(void *ctx, uint8_t *d, size_t n)
{
    size_t have = bsim_run_until(ctx, n, REPLY_BUDGET);
    if (have < n)
        return sparq_fail(SPARQ_ETIMEOUT, "board sim: %zu of %zu reply bytes", have, n);
    bsim_pull(ctx, d, n);
    return SPARQ_OK;
}
static int b_idle(void *ctx)
{
    bsim_step(ctx, 4096 + 512); // past the device's rx timeout
    return SPARQ_OK;
}
static uint64_t b_cycles(void *ctx) { return bsim_cycles(ctx); }
static void b_close(void *ctx) { bsim_destroy(ctx); }
static const struct sparq_transport_ops board_ops = {
    .name = "board-sim", .send = b_send, .recv = b_recv, .idle = b_idle, .cycles = b_cycles, .close = b_close,
};

#endif
