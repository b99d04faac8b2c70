/* The part of the FX2 firmware that does not touch hardware: USB setup
 * request handling (standard and sparq vendor requests) and descriptor
 * tables. It compiles with sdcc for the FX2 and with gcc for the unit test
 * (tests/unit/test_firmware.c), so it is plain C with two portability macros.
 * Hardware access goes through the fw_hw_* hooks: fx2_main.c implements them
 * on the chip, the test implements fakes.
 */
#ifndef SPARQ_FW_H
#define SPARQ_FW_H

#include <stdint.h>

#include "sparq_usb_protocol.h"

#ifdef __SDCC
#define FW_CODE __code /* tables live in code space */
#define FW_REENTRANT __reentrant /* sdcc: called through a pointer */
#else
#define FW_CODE
#define FW_REENTRANT
#endif

#define SPARQ_FW_VERSION 0x0100 /* 1.0 */
#define SPARQ_FW_IFCLK_MHZ 30   /* internal IFCLK, see fx2_main.c */
#define FW_EP0_SIZE 64

/* One SETUP packet, fields already converted from little-endian. */
struct fw_setup {
    uint8_t type;    /* bmRequestType */
    uint8_t request; /* bRequest */
    uint16_t value, index, length;
};

/* What the glue does with EP0 after a request: exactly one of these. */
#define FW_STALL 0 /* protocol stall */
#define FW_ACK   1 /* status stage only (OUT requests) */
#define FW_DATA  2 /* send *len bytes from buf, then the status stage */

/* Parses the 8 SETUPDAT bytes. */
void fw_setup_parse(struct fw_setup *s, const uint8_t *raw);

/* Called before the OUT data stage of a host-to-device request with
 * wLength > 0: returns 1 if the request is known and wLength is allowed
 * (the glue then receives the data), 0 to stall without reading it. */
uint8_t fw_out_data_ok(const struct fw_setup *s);

/* Handles one request. buf (FW_EP0_SIZE bytes) holds the OUT data on entry
 * and the IN data on return (*len bytes). Returns FW_STALL/FW_ACK/FW_DATA. */
uint8_t fw_handle_setup(const struct fw_setup *s, uint8_t *buf, uint8_t *len);

/* Descriptor lookup for GET_DESCRIPTOR: type, index, bus speed (1 = high).
 * Returns the length (0 if there is no such descriptor) and sets *desc. */
uint8_t fw_descriptor(uint8_t type, uint8_t index, uint8_t high_speed, const uint8_t FW_CODE **desc);

/* Current configuration value (0 or 1). */
extern uint8_t fw_configuration;

/* Vendor request table (exposed for the test). */
typedef uint8_t (*fw_handler)(const struct fw_setup *s, uint8_t *buf, uint8_t *len) FW_REENTRANT;
struct fw_vendor_request {
    uint8_t request;
    uint8_t dir_in;               /* 1: device-to-host */
    uint8_t min_len, max_len;     /* allowed wLength */
    fw_handler handler;
};
extern const struct fw_vendor_request FW_CODE fw_vendor_table[];
extern const uint8_t fw_vendor_count;

/* --- hardware hooks ------------------------------------------------------ */
void fw_hw_fpga_reset(uint8_t hold);        /* drive the FPGA reset line */
void fw_hw_fifo_reset(void);                /* NAK all, flush EP2/EP6, re-arm */
uint8_t fw_hw_status_flags(void);           /* SPARQ_USB_STF_* except CONFIGURED */
uint8_t fw_hw_bus_resets(void);
uint8_t fw_hw_fifo_flags(uint8_t ep);       /* EPxFIFOFLGS for ep 2 or 6 */
uint8_t fw_hw_high_speed(void);
uint8_t fw_hw_ep_halted(uint8_t ep);        /* ep address with direction bit */
uint8_t fw_hw_ep_set_halt(uint8_t ep, uint8_t halt); /* 0 if no such endpoint */
void fw_hw_spi_begin(void);                 /* CRESET_B low, SS low, then CRESET_B high */
void fw_hw_spi_write(const uint8_t *data, uint8_t n);
uint8_t fw_hw_spi_end(void);                /* dummy clocks, SS high; returns CDONE */

#endif
