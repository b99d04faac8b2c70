// Verilator harness of rtl/sparq_top.v behind a thin extern "C" shim, so the
// host library drives the RTL exactly as it would drive a board: bytes in,
// bytes out, one byte per clock per direction. Two builds of the RTL are
// linked in (sim/sim.mk): the default 16x16 4-lane array (Vsparq_top) and a
// small one-lane array (Vsparq_top1) that co-simulates LANES = 1.
#include "sparq_sim.h"

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <vector>

#include "Vsparq_top.h"
#include "Vsparq_top1.h"
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
    std::vector<uint8_t> rx;  // bytes to the device
    size_t rx_head = 0;
    std::vector<uint8_t> tx;  // bytes from the device
    size_t tx_head = 0;
    uint64_t cycles = 0;
    int throttle = 0;
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
        M *t = top.get();
        int have = s->rx_head < s->rx.size();
        t->rx_valid_i = (uint8_t)have;
        t->rx_data_i = have ? s->rx[s->rx_head] : 0;
        t->tx_ready_i = (uint8_t)(s->throttle ? (s->cycles & 1) : 1);
        half(s, 0);
        // Handshakes are decided by the values just before the rising edge.
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
    s->cycles = 0;
    const char *stats = std::getenv("SPARQ_SIM_STATS");
    s->stats = stats && *stats;
    return s;
}

struct sparq_sim *sparq_sim_create(void) { return sparq_sim_create_model(SPARQ_SIM_DEFAULT); }

void sparq_sim_destroy(struct sparq_sim *s)
{
    if (!s)
        return;
    if (s->stats && s->cycles)
        std::fprintf(stderr, "sparq_sim: %llu cycles simulated in %.3f CPU s (%.3f M cycles per CPU s)\n",
                     (unsigned long long)s->cycles, s->cpu_s, s->cpu_s > 0 ? 1e-6 * (double)s->cycles / s->cpu_s : 0.0);
    s->model->finish();
    if (s->trace)
        s->trace->close();
    delete s;
}

void sparq_sim_push(struct sparq_sim *s, const uint8_t *data, size_t n)
{
    s->rx.insert(s->rx.end(), data, data + n);
}

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
    loop_timer timer(s);
    for (uint64_t i = 0; i < n; i++)
        cycle(s);
}

size_t sparq_sim_run_until(struct sparq_sim *s, size_t want, uint64_t max_quiet)
{
    loop_timer timer(s);
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
