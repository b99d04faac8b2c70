// The UART board RTL (rtl/board/sparq_board_uart_core.v, Verilated with the
// parameters in tests/board/uart.mk) as a wire_device for uart_board_sim:
// host bytes become 8N1 frames on rx_i, one bit per CLKS_PER_BIT cycles,
// back to back; tx_o is decoded by a receiver that samples mid-bit and
// checks every stop bit. The clock runs while bytes move and for a window
// after (long enough for the longest job and the RTL's own partial-packet
// timeout), then stops until the host sends again: simulated time, not
// wall time, so the test does not depend on machine load.
#include <deque>
#include <memory>

#include "Vsparq_board_uart_core.h"
#include "verilated.h"
#include "wire_device.h"

extern "C" {
#include "sparq_device.h"
}

#ifndef UART_RTL_CLKS_PER_BIT
#error "uart.mk passes UART_RTL_CLKS_PER_BIT and the other model parameters"
#endif

namespace {
constexpr int C = UART_RTL_CLKS_PER_BIT;
// Cycles per step at most: the wire loop then looks for host bytes again
// (short, so a command is not kept waiting behind an idle slice).
constexpr uint64_t SLICE = 2000;

struct rtl_dev {
    std::unique_ptr<VerilatedContext> vctx;
    std::unique_ptr<Vsparq_board_uart_core> top;
    std::deque<uint8_t> in, out;
    uint64_t cycles = 0, window = 0, active_left = 0, window_cycles = 0;
    // rx driver: the frame on the line, bits left, cycles left in this bit
    uint16_t frame = 0;
    int bits_left = 0, bit_cycles = 0;
    // tx decoder
    int t_bits = -1, t_cycles = 0; // -1: waiting for a start bit
    uint16_t t_shift = 0;
    uint64_t tx_frame_errors = 0, stop_faults = 0, bytes_in = 0, bytes_out = 0, rx_frame_errors = 0;
    double stop_fault = 0;
    uint64_t rng = 1;
};

uint64_t next(rtl_dev *d)
{
    d->rng ^= d->rng << 13;
    d->rng ^= d->rng >> 7;
    d->rng ^= d->rng << 17;
    return d->rng;
}

void clock(rtl_dev *d)
{
    Vsparq_board_uart_core *t = d->top.get();
    // host -> board: next bit of the current frame, or the next frame
    if (d->bits_left == 0 && !d->in.empty()) {
        uint16_t stop = 1;
        if (d->stop_fault > 0 && (double)(next(d) >> 11) / 9007199254740992.0 < d->stop_fault) {
            stop = 0;
            d->stop_faults++;
        }
        d->frame = (uint16_t)(stop << 9 | d->in.front() << 1); // start bit 0, LSB first
        d->in.pop_front();
        d->bits_left = 10;
        d->bit_cycles = C;
        d->active_left = d->window;
        d->bytes_in++;
    }
    t->rx_i = d->bits_left ? (d->frame & 1) : 1;
    t->clk_i = 0;
    t->eval();
    t->clk_i = 1;
    t->eval();
    d->cycles++;
    d->rx_frame_errors += t->frame_err_o; // the RTL receiver's own count
    if (d->bits_left && --d->bit_cycles == 0) {
        d->frame >>= 1;
        d->bits_left--;
        d->bit_cycles = C;
    }
    // board -> host: tx_o after this edge, sampled in the middle of each bit
    int line = t->tx_o;
    if (d->t_bits < 0) {
        if (!line) { // start bit: first data bit's middle is 1.5 bits on
            d->t_bits = 0;
            d->t_cycles = C + C / 2;
            d->t_shift = 0;
            d->active_left = d->window;
        }
    } else if (--d->t_cycles == 0) {
        if (d->t_bits < 8) {
            d->t_shift |= (uint16_t)(line << d->t_bits);
            d->t_bits++;
            d->t_cycles = C;
        } else { // stop bit
            if (line)
                d->out.push_back((uint8_t)d->t_shift);
            else
                d->tx_frame_errors++;
            d->bytes_out++;
            d->t_bits = -1; // half a stop bit left: the next start edge is found from here
        }
    }
    if (d->active_left) {
        d->active_left--;
        d->window_cycles += d->in.empty() && !d->bits_left && d->t_bits < 0; // the line is idle both ways
    }
}

int busy(const rtl_dev *d) { return !d->in.empty() || d->bits_left || d->t_bits >= 0 || d->active_left; }

int rtl_step(void *ctx)
{
    rtl_dev *d = static_cast<rtl_dev *>(ctx);
    // ... and back as soon as a reply byte is ready, so it reaches the host now
    size_t had = d->out.size();
    for (uint64_t i = 0; i < SLICE && busy(d) && d->out.size() == had; i++)
        clock(d);
    return busy(d);
}

void rtl_feed(void *ctx, const uint8_t *data, size_t n)
{
    rtl_dev *d = static_cast<rtl_dev *>(ctx);
    d->in.insert(d->in.end(), data, data + n);
}

// The RTL drops a partial packet on its own after TIMEOUT idle cycles; the
// window already runs that long after the last byte, so nothing to do.
void rtl_quiet(void *ctx) { (void)ctx; }

size_t rtl_take(void *ctx, uint8_t *o, size_t n)
{
    rtl_dev *d = static_cast<rtl_dev *>(ctx);
    size_t k = 0;
    while (k < n && !d->out.empty()) {
        o[k++] = d->out.front();
        d->out.pop_front();
    }
    return k;
}

void rtl_close(void *ctx)
{
    rtl_dev *d = static_cast<rtl_dev *>(ctx);
    d->top->final();
    fprintf(stderr,
            "uart_rtl_device: %llu cycles (%d per bit, %llu with both lines idle), %llu frames in (%llu with a low stop bit), RTL receiver: "
            "%llu framing errors, rx FIFO overflow %s; %llu frames out (%llu framing errors)\n",
            (unsigned long long)d->cycles, C, (unsigned long long)d->window_cycles, (unsigned long long)d->bytes_in, (unsigned long long)d->stop_faults,
            (unsigned long long)d->rx_frame_errors, d->top->overflow_o ? "yes" : "no",
            (unsigned long long)d->bytes_out, (unsigned long long)d->tx_frame_errors);
    delete d;
}
} // namespace

extern "C" int wire_device_rtl(struct wire_device *w, double stop_fault, uint64_t seed)
{
    rtl_dev *d = new rtl_dev;
    d->vctx.reset(new VerilatedContext);
    d->top.reset(new Vsparq_board_uart_core(d->vctx.get()));
    d->stop_fault = stop_fault;
    d->rng = seed ? seed * 0x9E3779B97F4A7C15ull : 1;
    // Clock on after the last byte: the longest COMPUTE of this configuration
    // before its reply starts, plus the RTL's partial-packet timeout.
    sparq_device_config cfg{}; // fields left zero keep their defaults (one MAC lane)
    cfg.rows = UART_RTL_ROWS;
    cfg.cols = UART_RTL_COLS;
    cfg.wdepth = UART_RTL_WDEPTH;
    cfg.xdepth = UART_RTL_XDEPTH;
    cfg.rdepth = UART_RTL_RDEPTH;
    cfg.timeout = UART_RTL_TIMEOUT;
    d->window = 2 * sparq_devmodel_job_cycles(&cfg, cfg.rdepth, cfg.wdepth / 16, 4) + 2 * UART_RTL_TIMEOUT + 10000;
    Vsparq_board_uart_core *t = d->top.get();
    t->rx_i = 1;
    t->rst_ni = 0;
    for (int i = 0; i < 8; i++) {
        t->clk_i = 0;
        t->eval();
        t->clk_i = 1;
        t->eval();
    }
    t->rst_ni = 1;
    *w = wire_device{ "board RTL (Verilator, bit-level UART)", d, rtl_feed, rtl_quiet, rtl_take, rtl_step, rtl_close };
    return 0;
}
