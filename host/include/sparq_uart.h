// sparq-layer: board
// The `uart` transport: the device protocol (sparq_protocol.h) over a serial
// port, for boards whose only link is an FTDI/CH340/CP210x UART (iCEBreaker,
// iCEstick, HX8K breakout, ULX3S). Raw 8N1, POSIX termios; rates the C
// library has no B-constant for go through termios2/BOTHER on Linux. The
// reliability layer (sparq_link.h) sits on top, as for every link.
// docs/board.md ("UART boards") is the user's guide.
#ifndef SPARQ_UART_H
#define SPARQ_UART_H

#include <stddef.h>

#include "sparq_device.h"

#define SPARQ_UART_DEFAULT_BAUD 3000000 // 12 MHz board clock / 4 samples per bit
#define SPARQ_UART_MIN_BAUD 300
#define SPARQ_UART_MAX_BAUD 12000000   // FT2232H ceiling
// The board drops a partial packet after this much silence from the host
// (the UART board's rx timeout; the RTL adapter must use the same or less).
// Long enough for a USB-serial bridge's latency timer (16 ms on FTDI).
#define SPARQ_UART_RX_TIMEOUT_MS 50

struct sparq_uart_options {
    char path[256];
    int baud;       // bits per second; one byte is 10 bits (8N1)
    int timeout_ms; // silence that ends a read; 0: $SPARQ_UART_TIMEOUT_MS, else derived from the baud rate
};

// Parses "PATH[@BAUD]" (the part after "uart:"). Errors name the field.
int sparq_uart_parse(struct sparq_uart_options *opt, const char *spec);

// Silence (ms) after which a reply counts as lost: a fixed allowance for
// USB-serial latency and the longest job, plus 256 byte times.
int sparq_uart_quiet_ms(int baud);

// Opens and configures the port (raw, 8N1, no flow control, the rate).
// One-line errors: port missing, permission, not a tty, bad baud.
int sparq_transport_uart(struct sparq_transport *tr, const struct sparq_uart_options *opt);

// A device over a serial port with the reliability layer in between: what
// sparq_device_open(dev, "uart:PATH[@BAUD]") calls.
int sparq_device_open_uart(struct sparq_device **dev, const struct sparq_uart_options *opt);

// --- finding boards -----------------------------------------------------------------
struct sparq_uart_port {
    char path[256];
    int vid, pid;       // USB IDs from /sys/class/tty/NAME/device (-1 unknown)
    const char *bridge; // "FTDI", "CH340", "CP210x" or "" from the vendor ID
};
// Candidate ports: /dev/ttyUSB*, /dev/ttyACM* (sorted), or the ':'-separated
// list in SPARQ_UART_PORTS (tests: pseudo-terminals). *count may exceed max.
int sparq_uart_list(struct sparq_uart_port *ports, int max, int *count);
// Sends IDENTIFY with a short timeout (one attempt); fills *info.
int sparq_uart_probe(const char *path, int baud, struct sparq_device_info *info);

#endif
