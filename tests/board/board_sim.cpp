// Cycle model of the FX2LP slave FIFOs around the Verilated board core.
// EP2: bytes the host sent (available at once). EP6: bytes the FPGA wrote;
// full 512-byte packets commit themselves (AUTOIN), PKTEND commits a short
// one; the host sees committed bytes only, and at most 1024 uncommitted
// bytes fit (two buffers). Flags change after the edge that changed them.
#include <deque>
#include <memory>
#include <vector>

#include "Vsparq_board_core.h"
#include "board_sim.h"
#include "verilated.h"

struct bsim {
    std::unique_ptr<VerilatedContext> ctx;
    std::unique_ptr<Vsparq_board_core> top;
    std::deque<uint8_t> ep2, committed;
    std::vector<uint8_t> pending; // EP6 bytes not committed yet
    uint64_t cycles = 0, pktends = 0, violations = 0;
    int rst_cycles = 0;
};

static void inputs(bsim *b)
{
    Vsparq_board_core *t = b->top.get();
    t->rst_ni = b->rst_cycles > 0 ? 0 : 1;
    t->flaga_ni = b->ep2.empty() ? 0 : 1;
    t->flagb_ni = b->pending.size() >= 1024 ? 0 : 1;
    t->fd_i = (!t->sloe_no && !b->ep2.empty()) ? b->ep2.front() : 0;
}

static void cycle(bsim *b)
{
    Vsparq_board_core *t = b->top.get();
    inputs(b);
    t->eval();
    // What the FX2 samples on this rising edge (DUT outputs are registers).
    bool rd = !t->slrd_no, wr = !t->slwr_no, pe = !t->pktend_no;
    int adr = t->fifoadr_o;
    uint8_t wbyte = t->fd_o;
    if (t->fd_oe_o && !t->sloe_no)
        b->violations++; // both drive FD
    t->clk_i = 1;
    t->eval();
    if (rd) {
        if (adr != 0 || b->ep2.empty())
            b->violations++;
        else
            b->ep2.pop_front();
    }
    if (wr) {
        if (adr != 2 || b->pending.size() >= 1024) {
            b->violations++;
        } else {
            b->pending.push_back(wbyte);
            if (b->pending.size() % 512 == 0) { // AUTOINLEN
                b->committed.insert(b->committed.end(), b->pending.begin(), b->pending.end());
                b->pending.clear();
            }
        }
    }
    if (pe) {
        if (adr != 2 || b->pending.empty())
            b->violations++; // wrong FIFO, or a zero-length packet
        b->pktends++;
        b->committed.insert(b->committed.end(), b->pending.begin(), b->pending.end());
        b->pending.clear();
    }
    if (b->rst_cycles > 0)
        b->rst_cycles--;
    b->cycles++;
    t->clk_i = 0;
    inputs(b);
    t->eval();
}

extern "C" {
struct bsim *bsim_create(void)
{
    bsim *b = new bsim;
    b->ctx.reset(new VerilatedContext);
    b->top.reset(new Vsparq_board_core(b->ctx.get()));
    b->top->clk_i = 0;
    b->rst_cycles = 4;
    for (int i = 0; i < 8; i++)
        cycle(b);
    return b;
}
void bsim_destroy(struct bsim *b)
{
    if (!b)
        return;
    b->top->final();
    delete b;
}
void bsim_push(struct bsim *b, const uint8_t *d, size_t n) { b->ep2.insert(b->ep2.end(), d, d + n); }
size_t bsim_run_until(struct bsim *b, size_t want, uint64_t max_cycles)
{
    for (uint64_t i = 0; b->committed.size() < want && i < max_cycles; i++)
        cycle(b);
    return b->committed.size();
}
size_t bsim_pull(struct bsim *b, uint8_t *out, size_t n)
{
    size_t k = n < b->committed.size() ? n : b->committed.size();
    for (size_t i = 0; i < k; i++) {
        out[i] = b->committed.front();
        b->committed.pop_front();
    }
    return k;
}
void bsim_step(struct bsim *b, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        cycle(b);
}
void bsim_fpga_reset(struct bsim *b)
{
    // PD0 held for a few cycles; the FX2 side keeps its FIFO contents, as a
    // real FPGA reset would (the host flushes them with FIFO_RESET).
    b->rst_cycles = 4;
    for (int i = 0; i < 8; i++)
        cycle(b);
}
uint64_t bsim_cycles(const struct bsim *b) { return b->cycles; }
uint64_t bsim_pktends(const struct bsim *b) { return b->pktends; }
uint64_t bsim_violations(const struct bsim *b) { return b->violations; }
}
