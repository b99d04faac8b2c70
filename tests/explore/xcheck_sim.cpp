// The sparq_sim.h API over ONE Verilator build of rtl/sparq_top.v with the
// parameters explore.mk chose (-GROWS=... in its own -Mdir), so the
// cross-check of `sparq explore` (tests/cli/explore.sh) drives a configuration
// other than the two sim/sim.mk links in. Same clocking and handshakes as
// sim/sparq_sim.cpp; no tracing.
#include "sparq_sim.h"

#include <memory>
#include <vector>

#include "Vsparq_top.h"
#include "verilated.h"

struct sparq_sim {
    std::unique_ptr<VerilatedContext> ctx;
    std::unique_ptr<Vsparq_top> top;
    std::vector<uint8_t> rx, tx;
    size_t rx_head = 0, tx_head = 0;
    uint64_t cycles = 0;
    int throttle = 0;
};

static void half(sparq_sim *s, int clk)
{
    s->top->clk_i = (uint8_t)clk;
    s->top->eval();
    s->ctx->timeInc(1);
}

static void cycle(sparq_sim *s)
{
    Vsparq_top *t = s->top.get();
    int have = s->rx_head < s->rx.size();
    t->rx_valid_i = (uint8_t)have;
    t->rx_data_i = have ? s->rx[s->rx_head] : 0;
    t->tx_ready_i = (uint8_t)(s->throttle ? (s->cycles & 1) : 1);
    half(s, 0);
    int take = have && t->rx_ready_o;
    int give = t->tx_valid_o && t->tx_ready_i;
    uint8_t out = t->tx_data_o;
    half(s, 1);
    if (take && ++s->rx_head == s->rx.size()) {
        s->rx.clear();
        s->rx_head = 0;
    }
    if (give)
        s->tx.push_back(out);
    s->cycles++;
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
    s->cycles = 0;
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

void sparq_sim_push(struct sparq_sim *s, const uint8_t *data, size_t n) { s->rx.insert(s->rx.end(), data, data + n); }

size_t sparq_sim_rx_pending(const struct sparq_sim *s) { return s->rx.size() - s->rx_head; }

size_t sparq_sim_tx_available(const struct sparq_sim *s) { return s->tx.size() - s->tx_head; }

size_t sparq_sim_pull(struct sparq_sim *s, uint8_t *out, size_t n)
{
    size_t have = s->tx.size() - s->tx_head;
    if (n > have)
        n = have;
    for (size_t i = 0; i < n; i++)
        out[i] = s->tx[s->tx_head + i];
    s->tx_head += n;
    if (s->tx_head == s->tx.size()) {
        s->tx.clear();
        s->tx_head = 0;
    }
    return n;
}

void sparq_sim_step(struct sparq_sim *s, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        cycle(s);
}

size_t sparq_sim_run_until(struct sparq_sim *s, size_t want, uint64_t max_quiet)
{
    uint64_t quiet = 0;
    while (quiet < max_quiet && s->tx.size() - s->tx_head < want) {
        size_t rx_left = s->rx.size() - s->rx_head, tx_have = s->tx.size();
        cycle(s);
        if (s->rx.size() - s->rx_head != rx_left || s->tx.size() != tx_have)
            quiet = 0;
        else
            quiet++;
    }
    return s->tx.size() - s->tx_head;
}

uint64_t sparq_sim_cycles(const struct sparq_sim *s) { return s->cycles; }

void sparq_sim_set_tx_throttle(struct sparq_sim *s, int on) { s->throttle = on; }

} // extern "C"
