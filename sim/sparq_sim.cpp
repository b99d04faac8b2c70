// Verilator harness of rtl/sparq_top.v behind a thin extern "C" shim, so the
// host library drives the RTL exactly as it would drive a board: bytes in,
// bytes out, one port word (PORT_BYTES bytes) per clock per direction. Two
// builds of the RTL are linked in (sim/sim.mk): the default 16x16 4-lane array
// (Vsparq_top, its port as wide as sim.mk's PORT_BYTES) and a small one-lane
// array (Vsparq_top1, a byte port) that co-simulates LANES = 1.
// SPARQ_SIM_PARTIAL=seed: the host sends words of random length (faults).
#include "sparq_sim.h"

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <vector>

#include "Vsparq_top.h"
#include "Vsparq_top1.h"
#include "sim_link.h"
#include "verilated.h"
#include "verilated_fst_c.h"

struct sparq_sim;

// One verilated model behind a virtual clock: the two builds are distinct
// C++ classes with the same ports.
struct sim_model {
    virtual ~sim_model() = default;
    virtual void cycle(sparq_sim *s) = 0;
    virtual void reset(int on) = 0;
    virtual void trace(VerilatedFstC *t) = 0;
    virtual void finish() = 0;
};

struct sparq_sim {
    std::unique_ptr<VerilatedContext> ctx;
    std::unique_ptr<sim_model> model;
    std::unique_ptr<VerilatedFstC> trace;
    sim_link link;
    // SPARQ_SIM_STATS set: the thread's CPU time inside the clock loops,
    // printed with the cycle count when the model is destroyed
    bool stats = false;
    double cpu_s = 0;
};

static double thread_cpu_s()
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// Adds the CPU time of one clock loop to s->cpu_s (only when stats are on:
// two clock reads per loop, not per cycle).
struct loop_timer {
    sparq_sim *s;
    double t0;
    explicit loop_timer(sparq_sim *sim) : s(sim), t0(sim->stats ? thread_cpu_s() : 0) {}
    ~loop_timer()
    {
        if (s->stats)
            s->cpu_s += thread_cpu_s() - t0;
    }
};

template <class M> struct model_of : sim_model {
    std::unique_ptr<M> top;
    explicit model_of(VerilatedContext *ctx) : top(new M(ctx, "top"))
    {
        top->rst_ni = 0;
        top->rx_valid_i = 0;
        top->tx_ready_i = 1;
    }
    void half(sparq_sim *s, int clk)
    {
        top->clk_i = (uint8_t)clk;
        top->eval();
        if (s->trace)
            s->trace->dump(s->ctx->time());
        s->ctx->timeInc(1);
    }
    void cycle(sparq_sim *s) override
    {
        s->link.cycle(top.get(), [&](int clk) { half(s, clk); });
    }
    void reset(int on) override { top->rst_ni = (uint8_t)!on; }
    void trace(VerilatedFstC *t) override { top->trace(t, 99); }
    void finish() override { top->final(); }
};

static void cycle(sparq_sim *s) { s->model->cycle(s); }

extern "C" {

struct sparq_sim *sparq_sim_create_model(int which)
{
    if (which != SPARQ_SIM_DEFAULT && which != SPARQ_SIM_LANES1)
        return nullptr;
    sparq_sim *s = new sparq_sim;
    s->ctx.reset(new VerilatedContext);
    const char *trace = std::getenv("SPARQ_TRACE");
    if (trace && *trace)
        s->ctx->traceEverOn(true);
    if (which == SPARQ_SIM_LANES1)
        s->model.reset(new model_of<Vsparq_top1>(s->ctx.get()));
    else
        s->model.reset(new model_of<Vsparq_top>(s->ctx.get()));
    if (trace && *trace) {
        s->trace.reset(new VerilatedFstC);
        s->model->trace(s->trace.get());
        s->trace->open(trace);
    }
    s->model->reset(1);
    for (int i = 0; i < 4; i++)
        cycle(s);
    s->model->reset(0);
    s->link.cycles = 0;
    const char *partial = std::getenv("SPARQ_SIM_PARTIAL");
    if (partial && *partial) {
        s->link.partial = (uint32_t)std::strtoul(partial, nullptr, 0) | 1u;
        std::fprintf(stderr, "sparq_sim: partial rx words, seed %u\n", (unsigned)s->link.partial);
    }
    const char *stats = std::getenv("SPARQ_SIM_STATS");
    s->stats = stats && *stats;
    return s;
}

struct sparq_sim *sparq_sim_create(void) { return sparq_sim_create_model(SPARQ_SIM_DEFAULT); }

void sparq_sim_destroy(struct sparq_sim *s)
{
    if (!s)
        return;
    uint64_t n = s->link.cycles;
    if (s->stats && n)
        std::fprintf(stderr, "sparq_sim: %llu cycles simulated in %.3f CPU s (%.3f M cycles per CPU s)\n",
                     (unsigned long long)n, s->cpu_s, s->cpu_s > 0 ? 1e-6 * (double)n / s->cpu_s : 0.0);
    s->model->finish();
    if (s->trace)
        s->trace->close();
    delete s;
}

void sparq_sim_push(struct sparq_sim *s, const uint8_t *data, size_t n) { s->link.push(data, n); }

size_t sparq_sim_rx_pending(const struct sparq_sim *s) { return s->link.rx_pending(); }

size_t sparq_sim_tx_available(const struct sparq_sim *s) { return s->link.tx_available(); }

size_t sparq_sim_pull(struct sparq_sim *s, uint8_t *out, size_t n) { return s->link.pull(out, n); }

void sparq_sim_step(struct sparq_sim *s, uint64_t n)
{
    loop_timer timer(s);
    for (uint64_t i = 0; i < n; i++)
        cycle(s);
}

size_t sparq_sim_run_until(struct sparq_sim *s, size_t want, uint64_t max_quiet)
{
    loop_timer timer(s);
    return s->link.run_until(want, max_quiet, [s] { cycle(s); });
}

uint64_t sparq_sim_cycles(const struct sparq_sim *s) { return s->link.cycles; }

void sparq_sim_set_tx_throttle(struct sparq_sim *s, int on) { s->link.throttle = on; }

} // extern "C"
