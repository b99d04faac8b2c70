// sparq-layer: board
// Devices by name: the one place that knows every backend. The device layer
// (sparq_device.h) speaks the protocol over any transport; this board layer
// adds the transports that need Verilator (sim) or libusb (usb).
#ifndef SPARQ_BACKEND_H
#define SPARQ_BACKEND_H

#include "sparq_device.h"

// Opens "ref", "sim", "usb" or "uart:PATH[@BAUD]" (sparq_uart.h; the name
// is checked; a clear error otherwise). Every backend goes through the reliability layer
// (sparq_link.h): one framing / CRC / retry path for every link.
int sparq_device_open(struct sparq_device **dev, const char *backend);
// "ref" or "sim" without the reliability layer: raw protocol tests that send
// broken bytes on purpose (test_device_faults).
int sparq_device_open_raw(struct sparq_device **dev, const char *backend);

// Verilator model of rtl/sparq_top.v (sim/sim.mk). FST waves when the
// environment variable SPARQ_TRACE names a file.
int sparq_transport_sim(struct sparq_transport *tr);

#endif
