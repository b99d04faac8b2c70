// sparq-layer: board
// The `usb` transport: a sparq board (FX2LP USB bridge + iCE40 running
// rtl/board/sparq_board_top.v) over libusb-1.0. Bytes of the device protocol
// (sparq_protocol.h) travel on bulk EP2 OUT / EP6 IN; the bridge itself is
// managed with the vendor requests of sparq_usb_protocol.h. docs/board.md
// is the user's guide.
#ifndef SPARQ_USB_H
#define SPARQ_USB_H

#include <stddef.h>
#include <stdint.h>

#include "sparq_device.h"

struct sparq_usb_options {
    int vid, pid;         // board IDs (defaults: SPARQ_USB_VID/PID env, then sparq_usb_protocol.h)
    int index;            // which of several matching boards (0 = first)
    const char *firmware; // .ihx loaded into a bare FX2 (04b4:8613) if no sparq board is found; NULL: never
    int timeout_ms;       // every bulk/control transfer (default 1000)
    int transfers;        // bulk transfers in flight per direction (default 4)
    int transfer_bytes;   // bytes per bulk transfer (default 16384, a multiple of 512)
};

// Defaults, then the environment (SPARQ_USB_VID, SPARQ_USB_PID in hex, with
// or without 0x; SPARQ_USB_FIRMWARE). Returns SPARQ_EINVAL naming a bad variable.
int sparq_usb_options_init(struct sparq_usb_options *opt);

struct sparq_usb_board {
    int bus, address;
    int vid, pid;
    int bare_fx2;     // 1: a Cypress FX2 without firmware (04b4:8613)
    int speed;        // 1 low, 2 full, 3 high (libusb_speed); 0 unknown
    int api_level;    // from IDENTIFY (sparq boards that could be opened), else -1
    int fw_version;   // from IDENTIFY, else -1
    int status;       // SPARQ_USB_STF_* from STATUS, else -1
    char error[96];   // why IDENTIFY failed ("" if it worked or was not tried)
};

// Lists sparq boards (opt->vid:pid) and bare FX2s. *count may exceed max
// (only max are filled). A host without USB access is an error, not "none".
int sparq_usb_list(struct sparq_usb_board *boards, int max, int *count, const struct sparq_usb_options *opt);

// Loads an Intel HEX image into the FX2 at bus/address: CPUCS hold, RAM
// writes with vendor request 0xA0, CPUCS release (what fxload does).
int sparq_usb_load_firmware(int bus, int address, const char *ihx_path, int timeout_ms);

// Configures the iCE40 over the FX2's SPI lines (CONFIG_BEGIN/DATA/END).
int sparq_usb_load_bitstream(const struct sparq_usb_options *opt, const char *bin_path);

// Opens the board: claims the interface, checks the firmware's API level,
// holds the FPGA in reset, flushes both FX2 FIFOs, clears endpoint halts,
// releases the FPGA, drains stale IN data, then keeps opt->transfers bulk IN
// transfers in flight. Ctrl-C during a transfer cancels and drains them all.
int sparq_transport_usb(struct sparq_transport *tr, const struct sparq_usb_options *opt);

// Pulses the FPGA reset line of an open usb transport (fault tests).
int sparq_usb_fpga_reset(struct sparq_transport *tr);

// --- Intel HEX (libusb-free; unit-tested) -----------------------------------
struct sparq_ihx {
    uint8_t data[65536];
    uint8_t used[65536]; // 1 where a record wrote a byte
    uint32_t lo, hi;     // lowest address written, one past the highest
    size_t bytes;        // bytes written
};
// Parses Intel HEX text; errors name `name` and the line. Only data (00)
// and end-of-file (01) records; checksums, lengths and overlaps checked.
int sparq_ihx_parse(struct sparq_ihx *img, const char *text, size_t n, const char *name);
int sparq_ihx_load(struct sparq_ihx *img, const char *path);



// Link check with the loopback bitstream (rtl/board/sparq_board_loopback.v):
// sends `bytes` pseudo-random bytes through an open usb transport and
// compares the echo. Returns SPARQ_OK and the rate in MB/s (both directions
// counted once), or an error naming the first wrong byte.
int sparq_usb_loopback(struct sparq_transport *tr, size_t bytes, uint64_t seed, double *mb_per_s);

// A device over USB with the reliability layer (sparq_link.h) in between:
// what sparq_device_open(dev, "usb") calls. opt NULL: sparq_usb_options_init() defaults.
int sparq_device_open_usb(struct sparq_device **dev, const struct sparq_usb_options *opt);
#endif
