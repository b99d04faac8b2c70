// The sparq_sim.h API over ONE Verilator build of rtl/sparq_top.v with the
// parameters explore.mk chose (-GROWS=... in its own -Mdir), so the
// cross-check of `sparq explore` (tests/cli/explore.sh) drives a configuration
// other than the two sim/sim.mk links in. The byte link is sim/sim_link.h's,
// as in sim/sparq_sim.cpp; no tracing, no statistics.
#include "sparq_sim.h"

#include <memory>

#include "Vsparq_top.h"
#include "sim_link.h"
#include "verilated.h"

struct sparq_sim {
    std::unique_ptr<VerilatedContext> ctx;
    std::unique_ptr<Vsparq_top> top;
    sim_link link;
};

static void half(sparq_sim *s, int clk)
{
    s->top->clk_i = (uint8_t)clk;
    s->top->eval();
    s->ctx->timeInc(1);
}

static void cycle(sparq_sim *s)
{
    s->link.cycle(s->top.get(), [s](int clk) { half(s, clk); });
}

extern "C" {

struct sparq_sim *sparq_sim_create_model(int which)
{
    if (which != SPARQ_SIM_DEFAULT)
        return nullptr;
    sparq_sim *s = new sparq_sim;
    s->ctx.reset(new VerilatedContext);
    s->top.reset(new Vsparq_top(s->ctx.get(), "top"));
    s->top->rst_ni = 0;
    s->top->rx_valid_i = 0;
    s->top->tx_ready_i = 1;
    for (int i = 0; i < 4; i++)
        cycle(s);
    s->top->rst_ni = 1;
    s->link.cycles = 0;
    return s;
}

struct sparq_sim *sparq_sim_create(void) { return sparq_sim_create_model(SPARQ_SIM_DEFAULT); }

void sparq_sim_destroy(struct sparq_sim *s)
{
    if (!s)
        return;
    s->top->final();
    delete s;
}

void sparq_sim_push(struct sparq_sim *s, const uint8_t *data, size_t n) { s->link.push(data, n); }

size_t sparq_sim_rx_pending(const struct sparq_sim *s) { return s->link.rx_pending(); }

size_t sparq_sim_tx_available(const struct sparq_sim *s) { return s->link.tx_available(); }

size_t sparq_sim_pull(struct sparq_sim *s, uint8_t *out, size_t n) { return s->link.pull(out, n); }

void sparq_sim_step(struct sparq_sim *s, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        cycle(s);
}

size_t sparq_sim_run_until(struct sparq_sim *s, size_t want, uint64_t max_quiet)
{
    return s->link.run_until(want, max_quiet, [s] { cycle(s); });
}

uint64_t sparq_sim_cycles(const struct sparq_sim *s) { return s->link.cycles; }

void sparq_sim_set_tx_throttle(struct sparq_sim *s, int on) { s->link.throttle = on; }

} // extern "C"
