// sparq-layer: board
/* sparq USB bridge protocol: what the FX2LP firmware (firmware/) and the
 * host `usb` transport (host/src/usb_*.c) agree on. docs/board.md explains
 * it. Included by sdcc (firmware) and gcc (host), so it is plain C89:
 * #defines only.
 *
 * The accelerator's own byte protocol (sparq_protocol.h) travels unchanged
 * over the two bulk endpoints; the FX2 only moves bytes. Control requests
 * on endpoint 0 manage the bridge itself.
 */
#ifndef SPARQ_USB_PROTOCOL_H
#define SPARQ_USB_PROTOCOL_H

/* Bumped whenever a request, its lengths or a reply layout changes; the
 * host refuses firmware with another level. */
#define SPARQ_USB_API_LEVEL 1

/* USB IDs. 1209:0001 is the pid.codes *test* PID, usable only for private
 * testing: a PLACEHOLDER until sparq has its own PID. Override at build time
 * (make firmware SPARQ_USB_VID=0x.... SPARQ_USB_PID=0x....) and at run time
 * (SPARQ_USB_VID / SPARQ_USB_PID environment variables, --vid/--pid). */
#ifndef SPARQ_USB_VID
#define SPARQ_USB_VID 0x1209
#endif
#ifndef SPARQ_USB_PID
#define SPARQ_USB_PID 0x0001
#endif
/* A blank FX2LP (no EEPROM) enumerates with Cypress' ROM IDs. */
#define SPARQ_FX2_BARE_VID 0x04B4
#define SPARQ_FX2_BARE_PID 0x8613

/* Interface and bulk endpoints (slave FIFOs in AUTO mode). */
#define SPARQ_USB_INTERFACE 0
#define SPARQ_USB_EP_OUT    0x02 /* EP2 OUT: host -> FPGA */
#define SPARQ_USB_EP_IN     0x86 /* EP6 IN:  FPGA -> host */
#define SPARQ_USB_BULK_HS   512  /* max packet, high speed */
#define SPARQ_USB_BULK_FS   64   /* max packet, full speed */

/* FX2 ROM loader request (handled by the chip itself, before our firmware):
 * writes/reads internal RAM; writing 1 then 0 to CPUCS holds/releases the
 * 8051 reset. */
#define SPARQ_FX2_REQ_LOAD 0xA0
#define SPARQ_FX2_CPUCS    0xE600
#define SPARQ_FX2_RAM_SIZE 0x4000 /* 16 KB code/data RAM at 0x0000 */

/* Vendor requests (bmRequestType 0xC0 for IN, 0x40 for OUT). Every request
 * has a fixed wLength range; anything else is stalled. */
#define SPARQ_REQ_IDENTIFY     0xB0 /* IN,  wLength == SPARQ_USB_IDENTIFY_BYTES */
#define SPARQ_REQ_STATUS       0xB1 /* IN,  wLength == SPARQ_USB_STATUS_BYTES */
#define SPARQ_REQ_FPGA_RESET   0xB2 /* OUT, wLength == 0; wValue 1 = hold, 0 = release */
#define SPARQ_REQ_FIFO_RESET   0xB3 /* OUT, wLength == 0; NAK all, flush EP2 and EP6 FIFOs */
#define SPARQ_REQ_CONFIG_BEGIN 0xB4 /* OUT, wLength == 0; CRESET_B low, SPI_SS low */
#define SPARQ_REQ_CONFIG_DATA  0xB5 /* OUT, 1..64 bytes of bitstream, MSB first on SPI */
#define SPARQ_REQ_CONFIG_END   0xB6 /* IN,  wLength == 1; 100 dummy clocks; reply CDONE */

/* IDENTIFY reply (8 bytes). */
#define SPARQ_USB_IDENTIFY_BYTES 8
#define SPARQ_USB_ID_MAGIC0  0 /* 'S' */
#define SPARQ_USB_ID_MAGIC1  1 /* 'Q' */
#define SPARQ_USB_ID_API     2 /* u16 LE API level */
#define SPARQ_USB_ID_FW      4 /* u16 LE firmware version */
#define SPARQ_USB_ID_IFCLK   6 /* u8 interface clock, MHz */
#define SPARQ_USB_ID_FLAGS   7 /* u8 bit0: FPGA config over SPI supported */
#define SPARQ_USB_MAGIC0 0x53
#define SPARQ_USB_MAGIC1 0x51

/* STATUS reply (4 bytes). */
#define SPARQ_USB_STATUS_BYTES 4
#define SPARQ_USB_ST_FLAGS  0 /* u8, bits below */
#define SPARQ_USB_ST_RESETS 1 /* u8 bus resets seen (wraps) */
#define SPARQ_USB_ST_EP2    2 /* u8 EP2 FIFO flags (EP2FIFOFLGS) */
#define SPARQ_USB_ST_EP6    3 /* u8 EP6 FIFO flags (EP6FIFOFLGS) */
#define SPARQ_USB_STF_FPGA_RESET 0x01 /* FPGA held in reset */
#define SPARQ_USB_STF_CDONE      0x02 /* FPGA reports configuration done */
#define SPARQ_USB_STF_HIGH_SPEED 0x04 /* enumerated at high speed */
#define SPARQ_USB_STF_CONFIGURED 0x08 /* SET_CONFIGURATION 1 received */

#define SPARQ_USB_CONFIG_CHUNK 64 /* max CONFIG_DATA payload (EP0 buffer) */

#endif
