// The byte link between the host and a verilated sparq_top, shared by the
// simulator harness (sim/sparq_sim.cpp) and explore's cross-check harness
// (tests/explore/xcheck_sim.cpp): the two byte queues, one clock cycle with
// its FIFO handshakes, and the sparq_sim.h calls that only move bytes.
// A model with a word-wide port (sparq_top PORT_BYTES = 2 or 4: rx_data_i
// 16 or 32 bits) moves a word a cycle each way: rx_valid_i/tx_valid_o are the
// word's byte enables (the low bytes; rtl/sparq_top.v).
// Header-only so each harness inlines the per-cycle code into its loops.
#ifndef SPARQ_SIM_LINK_H
#define SPARQ_SIM_LINK_H

#include <cstddef>
#include <cstdint>
#include <vector>

struct sim_link {
    std::vector<uint8_t> rx; // bytes to the device
    size_t rx_head = 0;
    std::vector<uint8_t> tx; // bytes from the device
    size_t tx_head = 0;
    uint64_t cycles = 0;
    int throttle = 0; // 1: the host takes a reply word every other cycle
    // nonzero: the host sends words of a random 1..PORT_BYTES bytes (xorshift
    // state, SPARQ_SIM_PARTIAL), so partial words land anywhere in a packet
    uint32_t partial = 0;

    // One clock cycle of model t; half(clk) sets the clock and evaluates.
    template <class M, class Half> void cycle(M *t, Half half)
    {
        constexpr size_t pb = sizeof t->rx_data_i; // port bytes: the verilated data port's width
        size_t have = rx.size() - rx_head;
        if (have > pb)
            have = pb;
        if (partial && have > 1) {
            partial ^= partial << 13;
            partial ^= partial >> 17;
            partial ^= partial << 5;
            have = 1 + partial % have;
        }
        uint32_t word = 0;
        for (size_t j = 0; j < have; j++)
            word |= (uint32_t)rx[rx_head + j] << (8 * j);
        t->rx_valid_i = (uint8_t)((1u << have) - 1);
        t->rx_data_i = word;
        t->tx_ready_i = (uint8_t)(throttle ? (cycles & 1) : 1);
        half(0);
        // Handshakes are decided by the values just before the rising edge.
        size_t take = t->rx_ready_o ? have : 0;
        uint32_t be = (t->tx_valid_o & 1) && t->tx_ready_i ? t->tx_valid_o : 0;
        uint32_t out = t->tx_data_o;
        half(1);
        if (take && (rx_head += take) == rx.size()) {
            rx.clear();
            rx_head = 0;
        }
        for (size_t j = 0; j < pb && (be >> j & 1); j++)
            tx.push_back((uint8_t)(out >> (8 * j)));
        cycles++;
    }

    void push(const uint8_t *data, size_t n) { rx.insert(rx.end(), data, data + n); }
    size_t rx_pending() const { return rx.size() - rx_head; }
    size_t tx_available() const { return tx.size() - tx_head; }

    size_t pull(uint8_t *out, size_t n)
    {
        size_t have = tx.size() - tx_head;
        if (n > have)
            n = have;
        for (size_t i = 0; i < n; i++)
            out[i] = tx[tx_head + i];
        tx_head += n;
        if (tx_head == tx.size()) {
            tx.clear();
            tx_head = 0;
        }
        return n;
    }

    // Cycles until `want` reply bytes wait or max_quiet cycles pass with no
    // byte moving either way; step() runs one cycle.
    template <class Step> size_t run_until(size_t want, uint64_t max_quiet, Step step)
    {
        uint64_t quiet = 0;
        while (quiet < max_quiet && tx.size() - tx_head < want) {
            size_t rx_left = rx.size() - rx_head, tx_have = tx.size();
            step();
            if (rx.size() - rx_head != rx_left || tx.size() != tx_have)
                quiet = 0;
            else
                quiet++;
        }
        return tx.size() - tx_head;
    }
};

#endif
