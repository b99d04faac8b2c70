// Internal: the libusb calls the streaming `usb` transport makes, behind a
// table so tests can run the transport's real state machine against a fake
// device (tests/unit/test_usb_fake.c). Not a public API.
#ifndef SPARQ_USB_BACKEND_H
#define SPARQ_USB_BACKEND_H

#include <libusb.h>

struct sparq_usb_backend {
    int (*init)(libusb_context **ctx);
    void (*exit)(libusb_context *ctx);
    // SPARQ_OK with *h open, SPARQ_EDEVICE if no such board (bare FX2 position in *bare_bus/addr, -1 if none)
    int (*open_board)(libusb_context *ctx, int vid, int pid, int index, libusb_device_handle **h, int *bare_bus,
                      int *bare_addr);
    // SPARQ_OK with *h open on the device at bus/address (firmware loading)
    int (*open_at)(libusb_context *ctx, int bus, int address, libusb_device_handle **h);
    int (*claim)(libusb_device_handle *h, int iface);
    int (*release)(libusb_device_handle *h, int iface);
    void (*close)(libusb_device_handle *h);
    int (*control)(libusb_device_handle *h, uint8_t type, uint8_t req, uint16_t value, uint16_t index,
                   unsigned char *data, uint16_t len, unsigned timeout_ms);
    int (*clear_halt)(libusb_device_handle *h, unsigned char ep);
    int (*bulk)(libusb_device_handle *h, unsigned char ep, unsigned char *data, int len, int *got, unsigned timeout_ms);
    int (*submit)(struct libusb_transfer *t);
    int (*cancel)(struct libusb_transfer *t);
    int (*events)(libusb_context *ctx, struct timeval *tv);
};

// NULL restores libusb.
void sparq_usb_set_backend(const struct sparq_usb_backend *b);

#endif
