// "The device behind the wire" of the simulated UART board
// (uart_board_sim.c): whatever answers the bytes the pseudo-terminal
// carries. Two exist: the C device model (bytes in, bytes out, no time) and
// the Verilated board RTL (uart_rtl_device.cpp: UART frames bit by bit
// into sparq_board_uart_core, clocked in slices).
#ifndef SPARQ_WIRE_DEVICE_H
#define SPARQ_WIRE_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct wire_device {
    const char *name;
    void *ctx;
    void (*feed)(void *ctx, const uint8_t *data, size_t n);
    void (*quiet)(void *ctx); // the host has been silent for the rx timeout
    size_t (*take)(void *ctx, uint8_t *out, size_t n);
    // Advances a clocked device by one slice; returns nonzero while it has
    // work left (the wire loop then does not sleep). NULL: nothing to clock.
    int (*step)(void *ctx);
    void (*close)(void *ctx); // prints the device's own counts to stderr
};

// The board RTL at bit level; stop_fault: probability per byte that its
// stop bit is driven low (the receiver must report a framing error and
// drop it); seed for those draws.
int wire_device_rtl(struct wire_device *d, double stop_fault, uint64_t seed);

#ifdef __cplusplus
}
#endif
#endif
