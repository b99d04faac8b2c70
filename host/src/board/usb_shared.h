// Internal to the usb transport's files (usb_transport.c, usb_load.c): the
// helpers they share. Not a public API.
#ifndef SPARQ_USB_SHARED_H
#define SPARQ_USB_SHARED_H

#include <libusb.h>

#include "sparq_usb.h"
#include "usb_backend.h"

#define REQ_OUT (LIBUSB_ENDPOINT_OUT | LIBUSB_REQUEST_TYPE_VENDOR | LIBUSB_RECIPIENT_DEVICE)
#define REQ_IN (LIBUSB_ENDPOINT_IN | LIBUSB_REQUEST_TYPE_VENDOR | LIBUSB_RECIPIENT_DEVICE)

// The libusb table in use (sparq_usb_set_backend).
const struct sparq_usb_backend *sparq_usb_backend(void);
// sparq_fail with "usb: WHAT: <libusb error name>".
int sparq_usb_fail(int code, const char *what, int err);
int sparq_usb_check_options(const struct sparq_usb_options *o);
// A vendor request without data to the bridge.
int sparq_usb_vendor_out(libusb_device_handle *h, int req, int value, int timeout_ms, const char *what);
// Opens the index-th board with vid:pid: SPARQ_OK, or SPARQ_EDEVICE if none
// (a bare FX2's position in *bare_bus/addr, bus -1 if none), or an error.
int sparq_usb_find_and_open(libusb_context *ctx, int vid, int pid, int index, libusb_device_handle **h,
                            int *bare_bus, int *bare_addr);

#endif
